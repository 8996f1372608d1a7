import { assertEquals, assertThrows, assertTrue as assert } from "../helpers/assert.ts";
import { datasetToTensorBatches, extractFeatures, probeFeatures } from "../../src/eval/features.ts";
import { ArrayDataset } from "../../src/data/dataset.ts";
import { MlpMixer } from "../../src/nn/mixer.ts";
import { VisionTransformer } from "../../src/nn/vit.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { assertClose } from "../helpers/op_check.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { Random } from "../helpers/random.ts";

function grayDataset(count: number, size: number): ArrayDataset {
  const random = new Random(4);
  return new ArrayDataset({
    images: Uint8Array.from({ length: count * size * size }, () => random.int(256)),
    labels: Array.from({ length: count }, (_, i) => i % 3),
    height: size,
    width: size,
    channels: 1,
    classes: 3,
  });
}

gpuTest("features: dataset batches are normalised NCHW (gray repeated, resized)", async () => {
  const dataset = grayDataset(5, 4);
  const mean = [0.5, 0.4, 0.3];
  const std = [0.2, 0.25, 0.5];
  const batches = [];
  for await (const batch of datasetToTensorBatches(dataset, { batchSize: 2, mean, std })) {
    batches.push({
      shape: batch.images.shape,
      values: await batch.images.read(),
      labels: Array.from(batch.labels),
    });
    batch.images.dispose();
  }
  assertEquals(batches.map((b) => b.shape), [[2, 3, 4, 4], [2, 3, 4, 4], [1, 3, 4, 4]]);
  assertEquals(batches.flatMap((b) => b.labels), [0, 1, 2, 0, 1]);
  const image = dataset.get(3).image;
  const expected = [0, 1, 2].flatMap((c) => Array.from(image, (v) => (v / 255 - mean[c]) / std[c]));
  assertClose(batches[1].values.subarray(48, 96), expected, "sample 3");
  // nearest upsampling by 2 repeats each pixel
  for await (
    const batch of datasetToTensorBatches(dataset, {
      size: 8,
      resize: "nearest",
      channels: 1,
      limit: 1,
    })
  ) {
    const values = await batch.images.read();
    const first = dataset.get(0).image;
    const want = Array.from(
      { length: 64 },
      (_, i) => first[Math.floor(Math.floor(i / 8) / 2) * 4 + Math.floor((i % 8) / 2)],
    );
    assertClose(values, want.map((v) => (v / 255 - 0.485) / 0.229), "nearest");
    batch.images.dispose();
  }
});

gpuTest("features: ViT CLS and Mixer mean token, batched, with probe features", async () => {
  const vit = new VisionTransformer({
    imageSize: 16,
    patchSize: 8,
    embedDim: 32,
    depth: 3,
    heads: 2,
    registers: 1,
    seed: 2,
  });
  const dataset = grayDataset(5, 16);
  const progress: number[] = [];
  const extracted = await extractFeatures(vit, datasetToTensorBatches(dataset, { batchSize: 2 }), {
    onProgress: (done) => progress.push(done),
  });
  assertEquals([extracted.rows, extracted.dim], [5, 32]);
  assertEquals(progress, [2, 4, 5]);
  assertEquals(Array.from(extracted.labels), [0, 1, 2, 0, 1]);
  // reference: one forward over all five images
  const all: Tensor[] = [];
  for await (const batch of datasetToTensorBatches(dataset, { batchSize: 5 })) {
    all.push(batch.images);
  }
  const output = vit.forward(all[0]);
  assertClose(extracted.features, await output.cls.read(), "vit cls", {
    absolute: 1e-4,
    relative: 1e-3,
  });
  output.cls.dispose();
  output.patches.dispose();

  // probe features: CLS of the last 2 blocks + mean of the last block's patches (register skipped)
  const probe = probeFeatures(vit, all[0], { lastBlocks: 2, avgPool: true });
  assertEquals(probe.shape, [5, 96]);
  const layers = vit.intermediateLayers(all[0], 2);
  const [a, b] = [await layers[0].read(), await layers[1].read()];
  const tokens = 1 + 1 + 4;
  const want = new Float64Array(5 * 96);
  for (let i = 0; i < 5; i++) {
    for (let d = 0; d < 32; d++) {
      want[i * 96 + d] = a[i * tokens * 32 + d];
      want[i * 96 + 32 + d] = b[i * tokens * 32 + d];
      let sum = 0;
      for (let t = 2; t < tokens; t++) sum += b[(i * tokens + t) * 32 + d];
      want[i * 96 + 64 + d] = sum / 4;
    }
  }
  assertClose(await probe.read(), want, "probe features");
  for (const t of [probe, ...layers]) t.dispose();
  assertThrows(
    () => probeFeatures(vit, all[0], { lastBlocks: 4, avgPool: false }),
    ShapeError,
    "lastBlocks must be in 1..3",
  );

  const mixer = new MlpMixer({
    imageSize: 16,
    patchSize: 8,
    embedDim: 16,
    depth: 1,
    tokenHidden: 8,
    channelHidden: 32,
    seed: 3,
  });
  const mixed = await extractFeatures(mixer, [all[0]]);
  const mixerOutput = mixer.forward(all[0]);
  assertClose(mixed.features, await mixerOutput.pooled.read(), "mixer pooled");
  assert(mixed.labels.length === 0);
  mixerOutput.pooled.dispose();
  mixerOutput.tokens.dispose();
  all[0].dispose();
});
