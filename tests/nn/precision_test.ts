/**
 * Module precision f16 (Linear layers' operands cast to f16, f32 sums): features of the parity
 * fixtures within 1e-2 x max |reference| of PyTorch's f32 (the issue's bound for f16), and not
 * equal to f32 (the f16 path runs); gradients reach the f32 weights, close to f32 mode's;
 * setPrecision reaches every child and refuses other values.
 */
import { assertEquals, assertThrows, assertTrue as assert } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { readSafetensorsFile } from "../../src/io/safetensors.ts";
import { loadModel } from "../../src/io/pretrained/load.ts";
import { batchFeatures } from "../../src/eval/features.ts";
import { VisionTransformer } from "../../src/nn/vit.ts";
import { Linear, withWeightCasts } from "../../src/nn/layers.ts";
import { Random } from "../../src/tensor/random.ts";
import { mul } from "../../src/ops/elementwise/forward.ts";
import { meanAll } from "../../src/ops/reduction/forward.ts";
import { backward } from "../../src/tensor/backward.ts";
import { toFloat32 } from "../../src/tensor/host.ts";
import { liveTensorCount, readAll, tensor } from "../../src/tensor/tensor.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { MODEL_FIXTURES, patternImages } from "../helpers/parity.ts";

const manifest = JSON.parse(await Deno.readTextFile(`${MODEL_FIXTURES}manifest.json`)) as {
  cases: { name: string; weights: string; batch: number; size: number; heads: number }[];
};

/** max |a - b| / max |b|. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return worst / scale;
}

gpuTest("precision f16: parity-fixture features within 1e-2 of PyTorch's f32", async () => {
  for (const entry of manifest.cases) {
    const { model } = await loadModel(`${MODEL_FIXTURES}${entry.weights}`, { heads: entry.heads });
    const reference = toFloat32(
      (await readSafetensorsFile(`${MODEL_FIXTURES}${entry.name}.expected.safetensors`)).tensors
        .get("features")!,
    );
    const images = patternImages(entry.batch, entry.size);
    const full = await batchFeatures(model, images).read() as Float32Array;
    model.setPrecision("f16");
    const half = await batchFeatures(model, images).read() as Float32Array;
    const error = relativeError(half, reference);
    assert(error <= 1e-2, `${entry.name}: f16 features off by ${error.toExponential(2)} x max`);
    assert(relativeError(half, full) > 0, `${entry.name}: f16 gave the f32 features exactly`);
    images.dispose();
    model.dispose();
  }
});

gpuTest("precision f16: gradients reach the f32 weights, close to f32 mode's", async () => {
  const config = { imageSize: 16, patchSize: 4, embedDim: 32, depth: 2, heads: 2, seed: 5 };
  const images = tensor(
    Float32Array.from({ length: 2 * 3 * 16 * 16 }, (_, i) => Math.sin(i * 0.37)),
    [2, 3, 16, 16],
  );
  // A weighted sum of the CLS features (their plain mean is LayerNorm's bias alone).
  const weights = tensor(Float32Array.from({ length: 2 * 32 }, (_, i) => Math.cos(i)), [2, 32]);
  const gradients = async (precision: "f32" | "f16") => {
    const model = new VisionTransformer(config).setPrecision(precision);
    backward(meanAll(mul(model.forward(images).cls, weights)));
    const named = model.namedParameters();
    for (const [name, value] of named) {
      assert(value.grad !== undefined, `${precision}: ${name} has a gradient`);
      assertEquals(value.grad.dtype, "f32", `${precision}: ${name}'s gradient dtype`);
    }
    const values = await readAll(named.map(([, value]) => value.grad!));
    model.dispose();
    return new Map(named.map(([name], index) => [name, values[index]]));
  };
  const full = await gradients("f32");
  const half = await gradients("f16");
  for (const [name, expected] of full) {
    const error = relativeError(half.get(name)!, expected);
    assert(error <= 3e-2, `${name}: f16 gradient off by ${error.toExponential(2)} x max`);
  }
  images.dispose();
  weights.dispose();
});

gpuTest("precision: setPrecision reaches every child and refuses other values", () => {
  const model = new VisionTransformer({
    imageSize: 8,
    patchSize: 4,
    embedDim: 8,
    depth: 2,
    heads: 1,
  });
  assertEquals(model.precision, "f32");
  model.setPrecision("f16");
  const precisions = model.blocks.flatMap((block) => [block.precision, block.mlp.precision]);
  assertEquals(precisions, ["f16", "f16", "f16", "f16"]);
  assertThrows(() => model.setPrecision("bf16" as "f16"), ShapeError, 'want "f32" or "f16"');
  model.dispose();
});

gpuTest("precision f16: withWeightCasts shares one f16 copy a weight, same gradients", async () => {
  const x = tensor(Float32Array.from({ length: 3 * 5 * 8 }, (_, i) => Math.sin(i)), [3, 5, 8]);
  const y = tensor(Float32Array.from({ length: 3 * 5 * 8 }, (_, i) => Math.cos(i)), [3, 5, 8]);
  const weightGrad = async (shared: boolean) => {
    const layer = new Linear(8, 12, new Random(7)).setPrecision("f16");
    const live = liveTensorCount();
    const run = () => {
      // the layer twice, as a DINO step runs the student on two view groups
      const first = layer.forward(x);
      const second = layer.forward(y);
      return meanAll(mul(first, second));
    };
    const loss = shared ? withWeightCasts(run) : run();
    backward(loss);
    loss.dispose();
    const [grad] = await readAll([layer.weight.grad!]);
    layer.weight.grad!.dispose();
    layer.weight.grad = undefined;
    const leaked = liveTensorCount() - live;
    layer.dispose();
    return { grad: Array.from(grad), leaked };
  };
  const plain = await weightGrad(false);
  const shared = await weightGrad(true);
  assertEquals(shared.grad, plain.grad);
  assertEquals(shared.leaked, plain.leaked, "withWeightCasts releases its copies");
  x.dispose();
  y.dispose();
});
