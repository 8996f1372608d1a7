import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { syntheticClassName, syntheticDataset } from "../../src/data/synthetic.ts";
import { trainTestSplit } from "../../src/data/dataset.ts";
import { assertBalancedAndShuffled, assertSeeded } from "../helpers/generated_data.ts";

Deno.test("synthetic: same seed, same data; another seed, other data", () => {
  const a = assertSeeded((seed) => syntheticDataset({ count: 60, size: 16, seed }));
  assertEquals(a.arrays.images.length, 60 * 16 * 16 * 3);
  assertEquals(a.classNames?.[6], "square/stripes");
  assertEquals(syntheticClassName(12), "triangle/checker");
});

Deno.test("synthetic: classes are balanced and the order is shuffled", () => {
  const data = syntheticDataset({ count: 103, size: 8, seed: 1, classes: 7 });
  assertBalancedAndShuffled(data.arrays.labels, 7, 14);
  assertThrows(() => syntheticDataset({ classes: 16 }), RangeError, "classes");
  assertThrows(() => syntheticDataset({ size: 4 }), RangeError, "size");
});

/** k-NN (k = 1, L2) on raw pixels: the set must be learnable but not trivial. */
Deno.test("synthetic: raw-pixel 1-NN is above chance and clearly below 100%", () => {
  const data = syntheticDataset({ count: 600, size: 16, seed: 3 });
  const { train, test } = trainTestSplit(data, { testFraction: 0.25, seed: 1 });
  const bytes = 16 * 16 * 3;
  const trainImages = Array.from({ length: train.length }, (_, i) => train.get(i));
  let correct = 0;
  for (let t = 0; t < test.length; t++) {
    const query = test.get(t) as { image: Uint8Array; label: number };
    let best = Infinity, bestLabel = -1;
    for (const sample of trainImages) {
      const s = sample as { image: Uint8Array; label: number };
      let distance = 0;
      for (let k = 0; k < bytes; k++) {
        const d = s.image[k] - query.image[k];
        distance += d * d;
      }
      if (distance < best) [best, bestLabel] = [distance, s.label];
    }
    if (bestLabel === query.label) correct++;
  }
  const accuracy = correct / test.length;
  console.log(`synthetic raw-pixel 1-NN accuracy: ${(100 * accuracy).toFixed(1)}%`);
  assertTrue(accuracy > 0.14 && accuracy < 0.6, `accuracy ${accuracy}`);
});
