/**
 * Checks the generated data sets (synthetic shapes, textures) share: seeded reproducibility and
 * balanced, shuffled labels.
 * @module
 */
import type { ArrayDataset } from "../../src/data/dataset.ts";
import { assertEquals, assertTrue } from "./assert.ts";

/**
 * Asserts that `make(seed)` gives the same images and labels for seed 7 twice and other images for
 * seed 8, 16 x 16 RGB in 10 classes; returns the seed-7 set.
 */
export function assertSeeded(make: (seed: number) => ArrayDataset): ArrayDataset {
  const [a, b, c] = [make(7), make(7), make(8)];
  assertEquals(a.arrays.images, b.arrays.images);
  assertEquals(a.arrays.labels, b.arrays.labels);
  assertTrue(!a.arrays.images.every((value, i) => value === c.arrays.images[i]));
  assertEquals([a.height, a.width, a.channels, a.classes], [16, 16, 3, 10]);
  return a;
}

/**
 * Asserts that `labels` of `classes` classes are balanced (counts differ by one at most) and that
 * the first `first` are not in class order 0, 1, ..., 0, 1, ...
 */
export function assertBalancedAndShuffled(
  labels: ArrayLike<number>,
  classes: number,
  first: number,
): void {
  const counts = new Array(classes).fill(0);
  for (const label of Array.from(labels)) counts[label]++;
  assertTrue(Math.max(...counts) - Math.min(...counts) <= 1, `counts ${counts}`);
  const inOrder = Array.from({ length: first }, (_, i) => i % classes);
  assertTrue(Array.from(labels).slice(0, first).join() !== inOrder.join(), "not shuffled");
}
