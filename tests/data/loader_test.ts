import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { DataLoader } from "../../src/data/loader.ts";
import { ArrayDataset, type Dataset, trainTestSplit } from "../../src/data/dataset.ts";
import { syntheticDataset } from "../../src/data/synthetic.ts";

async function collect(loader: DataLoader, epoch: number) {
  const batches = [];
  for await (const batch of loader.epoch(epoch)) batches.push(batch);
  return batches;
}

Deno.test("loader: batch shapes, contents and dropLast", async () => {
  const data = syntheticDataset({ count: 23, size: 8, seed: 2 });
  const loader = new DataLoader(data, { batchSize: 5, seed: 1 });
  assertEquals(loader.batchesPerEpoch, 4);
  const batches = await collect(loader, 0);
  assertEquals(batches.length, 4);
  for (const [step, batch] of batches.entries()) {
    assertEquals(batch.shape, [5, 8, 8, 3]);
    assertEquals(batch.images.length, 5 * 8 * 8 * 3);
    assertEquals(batch.step, step);
    for (let b = 0; b < 5; b++) {
      const sample = data.get(batch.indices[b]);
      assertEquals(batch.images.subarray(b * 192, (b + 1) * 192), sample.image);
      assertEquals(batch.labels[b], sample.label);
    }
  }
  const seen = new Set(batches.flatMap((batch) => Array.from(batch.indices)));
  assertEquals(seen.size, 20);
  const keepAll = await collect(new DataLoader(data, { batchSize: 5, dropLast: false }), 0);
  assertEquals(keepAll.map((batch) => batch.shape[0]), [5, 5, 5, 5, 3]);
  assertThrows(() => new DataLoader(data, { batchSize: 24 }), RangeError, "no full batch");
});

Deno.test("loader: seeded shuffling is deterministic per epoch and differs across epochs", async () => {
  const data = syntheticDataset({ count: 40, size: 8, seed: 0 });
  const order = async (seed: number, epoch: number) =>
    (await collect(new DataLoader(data, { batchSize: 8, seed }), epoch))
      .flatMap((batch) => Array.from(batch.indices));
  const a = await order(5, 0);
  assertEquals(a, await order(5, 0));
  assertTrue(a.join() !== (await order(5, 1)).join(), "epochs 0 and 1 share an order");
  assertTrue(a.join() !== (await order(6, 0)).join(), "seeds 5 and 6 share an order");
  assertEquals([...a].sort((x, y) => x - y), Array.from({ length: 40 }, (_, i) => i));
  const plain = await collect(new DataLoader(data, { batchSize: 8, shuffle: false }), 3);
  assertEquals(Array.from(plain[1].indices), [8, 9, 10, 11, 12, 13, 14, 15]);
});

Deno.test("loader: resizes samples of another size and awaits async datasets", async () => {
  const base = new ArrayDataset({
    images: new Uint8Array(3 * 2 * 2).fill(50),
    labels: [0, 1, 0],
    height: 2,
    width: 2,
    channels: 1,
    classes: 2,
  });
  const lazy: Dataset = {
    length: 3,
    classes: 2,
    channels: 1,
    get: (i) => Promise.resolve(base.get(i)),
  };
  const batches = await collect(new DataLoader(lazy, { batchSize: 3, size: [4, 5] }), 0);
  assertEquals(batches[0].shape, [3, 4, 5, 1]);
  assertEquals(batches[0].images, new Uint8Array(60).fill(50));
  assertThrows(() => new DataLoader(lazy, { batchSize: 1 }), RangeError, "no common size");
});

Deno.test("trainTestSplit: disjoint, seeded, stratified", () => {
  const data = syntheticDataset({ count: 100, size: 8, seed: 4 });
  const { train, test } = trainTestSplit(data, { testFraction: 0.2, seed: 3 });
  assertEquals([train.length, test.length], [80, 20]);
  const labels = (d: Dataset) =>
    Array.from({ length: d.length }, (_, i) => (d.get(i) as { label: number }).label);
  const counts = new Array(10).fill(0);
  for (const label of labels(test)) counts[label]++;
  assertEquals(counts, new Array(10).fill(2));
  const again = trainTestSplit(data, { testFraction: 0.2, seed: 3 }).test;
  const images = (d: Dataset) =>
    Array.from({ length: d.length }, (_, i) => (d.get(i) as { image: Uint8Array }).image.join());
  assertEquals(images(again), images(test));
  const trainSet = new Set(images(train));
  assertTrue(images(test).every((image) => !trainSet.has(image)), "splits overlap");
  assertThrows(() => trainTestSplit(data, { testFraction: 1 }), RangeError, "testFraction");
});
