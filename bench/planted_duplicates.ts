/**
 * Planted near-duplicates on Fashion-MNIST: the train split plus COPIES transformed copies of test
 * images (in turn: JPEG re-encode at quality 60, a 2-4 pixel crop resized back, a brightness shift
 * of +-24, a horizontal flip), deduplicated against the test split as `curate dedup --against`
 * does, on raw pixels (L2-normalised) or, with a weights file, on a model's CLS features.
 * Prints, per decontamination threshold, the precision and recall of the removed copies (by
 * transform), the train images that touch the test split beyond the planted ones, and the
 * near-duplicate groups inside train; writes a contact sheet of train/test pairs found.
 *
 *   deno run -A bench/planted_duplicates.ts OUT_DIR [COPIES] [WEIGHTS|pixels] [inside]
 *
 * `inside` also deduplicates the pool itself (a 62,000 x 62,000 search: slow on lavapipe).
 * @module
 */
import jpeg from "jpeg-js";
import { contactSheet } from "../src/curate/contact_sheet.ts";
import { dedupComponents } from "../src/curate/dedup.ts";
import { knnSearch, normalizeRows } from "../src/curate/knn_search.ts";
import { ArrayDataset, type Dataset, seededRandom } from "../src/data/dataset.ts";
import { loadDataSpec } from "../src/data/spec.ts";
import { datasetToTensorBatches, extractFeatures, pixelFeatures } from "../src/eval/features.ts";
import { initGpu } from "../src/gpu/device.ts";
import { encodePng } from "../src/io/image.ts";
import { loadModel } from "../src/io/pretrained/load.ts";

const [out = "runs/planted", copiesText = "2000", weightsArgument, inside] = Deno.args;
const weights = weightsArgument === "pixels" ? undefined : weightsArgument;
const copies = Number(copiesText);
const SIDE = 28;
const KINDS = ["jpeg", "crop", "brightness", "flip"] as const;

function transform(image: Uint8Array, kind: typeof KINDS[number], random: () => number) {
  const result = new Uint8Array(SIDE * SIDE);
  if (kind === "jpeg") {
    const rgba = new Uint8Array(SIDE * SIDE * 4);
    image.forEach((v, i) => rgba.set([v, v, v, 255], i * 4));
    const encoded = jpeg.encode({ data: rgba, width: SIDE, height: SIDE }, 60).data;
    const decoded = jpeg.decode(encoded, { useTArray: true });
    for (let i = 0; i < result.length; i++) result[i] = decoded.data[i * 4];
  } else if (kind === "crop") {
    const border = 2 + Math.floor(random() * 3);
    const inner = SIDE - 2 * border;
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const sy = Math.min(inner - 1, Math.max(0, (y + 0.5) * inner / SIDE - 0.5));
        const sx = Math.min(inner - 1, Math.max(0, (x + 0.5) * inner / SIDE - 0.5));
        const [y0, x0] = [Math.floor(sy), Math.floor(sx)];
        const [y1, x1] = [Math.min(inner - 1, y0 + 1), Math.min(inner - 1, x0 + 1)];
        const at = (yy: number, xx: number) => image[(yy + border) * SIDE + xx + border];
        const [fy, fx] = [sy - y0, sx - x0];
        result[y * SIDE + x] = Math.round(
          (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) +
            fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1)),
        );
      }
    }
  } else if (kind === "brightness") {
    const shift = random() < 0.5 ? -24 : 24;
    image.forEach((v, i) => result[i] = Math.min(255, Math.max(0, v + shift)));
  } else {
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) result[y * SIDE + x] = image[y * SIDE + SIDE - 1 - x];
    }
  }
  return result;
}

await initGpu();
const data = await loadDataSpec("fashion-mnist");
const train = data.train as ArrayDataset;
const test = data.test as ArrayDataset;
const random = seededRandom(7);
const picked = Array.from({ length: copies }, () => Math.floor(random() * test.length));
const images = new Uint8Array((train.length + copies) * SIDE * SIDE);
images.set(train.arrays.images);
picked.forEach((t, j) => {
  const copy = transform(test.get(t).image, KINDS[j % KINDS.length], random);
  images.set(copy, (train.length + j) * SIDE * SIDE);
});
const pool = new ArrayDataset({
  ...train.arrays,
  images,
  labels: new Int32Array(train.length + copies),
});

const model = weights ? (await loadModel(weights)).model : undefined;
async function embed(dataset: Dataset) {
  const features = model
    ? await extractFeatures(
      model,
      datasetToTensorBatches(dataset, {
        size: model.config.imageSize,
        batchSize: 256,
        channels: model.config.inChannels === 1 ? 1 : 3,
      }),
    )
    : await pixelFeatures(dataset);
  return { data: normalizeRows(features.features, features.dim), dim: features.dim };
}
const poolFeatures = await embed(pool);
const testFeatures = await embed(test);
const nearestTest = await knnSearch(poolFeatures, testFeatures, { k: 1 });
const poolRows = train.length + copies;
const neighbours = inside ? await knnSearch(poolFeatures, poolFeatures, { k: 16 }) : {
  k: 1,
  indices: Int32Array.from({ length: poolRows }, (_, row) => row),
  similarities: new Float32Array(poolRows).fill(1),
};
const isCopy = (row: number) => row >= train.length;
const lines: string[] = [];
for (const threshold of [0.9, 0.95, 0.97, 0.98, 0.99]) {
  const touching: number[] = [];
  nearestTest.similarities.forEach((s, row) => s > threshold && touching.push(row));
  const result = dedupComponents(poolFeatures, neighbours, 2, touching); // no pool edges
  const removed = Array.from(result.removed);
  const found = removed.filter(isCopy).length;
  const byKind = KINDS.map((kind, i) =>
    `${kind} ${
      (100 * removed.filter((row) => isCopy(row) && (row - train.length) % 4 === i).length /
        (copies / 4)).toFixed(1)
    }%`
  );
  lines.push(
    `against ${threshold}: removed ${removed.length}, copies ${found}/${copies} (recall ${
      (100 * found / copies).toFixed(1)
    }%: ${byKind.join(", ")}), precision ${
      (100 * found / Math.max(1, removed.length)).toFixed(1)
    }%, train touching test ${removed.length - found}`,
  );
}
for (const threshold of inside ? [0.95, 0.98, 0.99] : []) {
  const inside = dedupComponents(poolFeatures, neighbours, threshold);
  const trainGroups = inside.groups.filter((group) => group.members.every((row) => !isCopy(row)));
  lines.push(
    `dedup inside train at ${threshold}: ${trainGroups.length} groups, ${
      trainGroups.reduce((n, g) => n + g.members.length - 1, 0)
    } removed`,
  );
}
console.log(`features: ${weights ?? "pixels"} (${poolFeatures.dim}), ${copies} planted copies`);
for (const line of lines) console.log(line);

// contact sheet: the train images nearest a test image (not planted), with that test image
const pairs = Array.from({ length: train.length }, (_, row) => row)
  .sort((a, b) => nearestTest.similarities[b] - nearestTest.similarities[a]).slice(0, 24);
const sheet = await contactSheet(
  pairs.map((row) => [row, train.length + copies + nearestTest.indices[row]]),
  (id) => id < train.length + copies ? pool.get(id) : test.get(id - train.length - copies),
  { cell: 56, perLine: 2 },
);
await Deno.mkdir(out, { recursive: true });
await Deno.writeFile(
  `${out}/train_test_pairs.png`,
  encodePng(sheet.pixels, sheet.width, sheet.height),
);
console.log(
  `most similar train/test pairs (similarity): ${
    pairs.slice(0, 8).map((row) =>
      `train/${row}~test/${nearestTest.indices[row]} ${nearestTest.similarities[row].toFixed(4)}`
    ).join(", ")
  } -> ${out}/train_test_pairs.png`,
);
model?.dispose();
