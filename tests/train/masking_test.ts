// iBOT block masks: DINOv2's share, ratio range, rectangle growth, indices and weights, seeding.
import { Random } from "../../src/tensor/random.ts";
import { BlockMaskGenerator, drawMaskBatch } from "../../src/train/masking.ts";
import { assertEquals, assertTrue } from "../helpers/assert.ts";

Deno.test("masking: half the crops get a mask within the ratio range, the rest none", () => {
  const random = new Random(5);
  for (let trial = 0; trial < 20; trial++) {
    const batch = drawMaskBatch(16, {
      gridHeight: 14,
      gridWidth: 14,
      ratio: [0.1, 0.5],
      probability: 0.5,
    }, random);
    assertEquals(batch.masks.length, 16);
    const masked = batch.counts.filter((count) => count > 0).length;
    assertTrue(masked <= 8 && masked >= 7, `masked crops ${masked}`);
    for (const count of batch.counts) assertTrue(count <= 0.5 * 196, `count ${count}`);
    const totalRatio = batch.counts.reduce((s, c) => s + c, 0) / (8 * 196);
    assertTrue(totalRatio > 0.15 && totalRatio <= 0.5, `mean ratio ${totalRatio}`);
    // indices and weights agree with the masks
    let at = 0;
    batch.masks.forEach((mask, crop) => {
      for (let p = 0; p < 196; p++) {
        if (!mask[p]) continue;
        assertEquals(batch.indices[at], crop * 196 + p);
        assertTrue(Math.abs(batch.weights[at] - 1 / batch.counts[crop]) < 1e-7);
        at++;
      }
    });
    assertEquals(at, batch.indices.length);
  }
});

Deno.test("masking: masks are unions of rectangles and follow the seed", () => {
  const generator = new BlockMaskGenerator(8, 8, new Random(2));
  const mask = generator.draw(20);
  const count = mask.reduce((s, v) => s + v, 0);
  assertTrue(count > 0 && count <= 20, `count ${count}`);
  // every masked patch has a masked neighbour or is in a rectangle of at least 4 (min area)
  let isolated = 0;
  for (let i = 0; i < 8; i++) {
    for (let j = 0; j < 8; j++) {
      if (!mask[i * 8 + j]) continue;
      const neighbours = [[i - 1, j], [i + 1, j], [i, j - 1], [i, j + 1]].filter(([y, x]) =>
        y >= 0 && y < 8 && x >= 0 && x < 8 && mask[y * 8 + x]
      ).length;
      if (neighbours === 0) {
        isolated++;
      }
    }
  }
  assertEquals(isolated, 0);
  const config = {
    gridHeight: 6,
    gridWidth: 6,
    ratio: [0.1, 0.5] as [number, number],
    probability: 0.5,
  };
  const a = new Random(9);
  const b = new Random(9);
  assertEquals(
    Array.from(drawMaskBatch(8, config, a).indices),
    Array.from(drawMaskBatch(8, config, b).indices),
  );
  assertEquals(a.state, b.state);
  const none = drawMaskBatch(4, { ...config, probability: 0 }, a);
  assertEquals(none.indices.length, 0);
});
