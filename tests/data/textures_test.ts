import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { TEXTURE_CLASSES, texturesDataset } from "../../src/data/textures.ts";
import { loadDataSpec } from "../../src/data/spec.ts";
import { assertBalancedAndShuffled, assertSeeded } from "../helpers/generated_data.ts";

Deno.test("textures: same seed, same data; balanced classes in shuffled order", () => {
  const a = assertSeeded((seed) => texturesDataset({ count: 53, size: 16, seed }));
  assertEquals(a.classNames, [...TEXTURE_CLASSES]);
  assertBalancedAndShuffled(a.arrays.labels, 10, 10);
  assertThrows(() => texturesDataset({ size: 4 }), RangeError, "size");
  assertThrows(() => texturesDataset({ count: 0 }), RangeError, "count");
});

/** Mean absolute difference between horizontal and between vertical neighbours of an image. */
function neighbourDifferences(image: Uint8Array, size: number): [number, number] {
  let across = 0, down = 0;
  for (let y = 0; y < size - 1; y++) {
    for (let x = 0; x < size - 1; x++) {
      for (let k = 0; k < 3; k++) {
        const here = image[(y * size + x) * 3 + k];
        across += Math.abs(image[(y * size + x + 1) * 3 + k] - here);
        down += Math.abs(image[((y + 1) * size + x) * 3 + k] - here);
      }
    }
  }
  return [across, down];
}

Deno.test("textures: stripes run the way their class says", () => {
  const data = texturesDataset({ count: 200, size: 32, seed: 2 });
  let checked = 0;
  for (let i = 0; i < data.length; i++) {
    const { image, label } = data.get(i) as { image: Uint8Array; label: number };
    if (label !== 0 && label !== 1) continue;
    const [across, down] = neighbourDifferences(image, 32);
    // horizontal stripes change going down, vertical ones going across
    if (label === 0) assertTrue(down > 2 * across, `horizontal stripes: ${down} vs ${across}`);
    else assertTrue(across > 2 * down, `vertical stripes: ${across} vs ${down}`);
    checked++;
  }
  assertEquals(checked, 40);
});

Deno.test("textures: the data spec splits 80/20 and names the classes", async () => {
  const data = await loadDataSpec("textures:100");
  assertEquals([data.train.length, data.test.length, data.classes], [80, 20, 10]);
  assertEquals(data.name, "textures:100");
  assertEquals(data.classNames[9], "waves");
});
