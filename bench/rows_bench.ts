/**
 * Row kernels old vs new on the shapes of a small-model (DINO ViT-tiny) training step on llvmpipe:
 * layerNorm forward and backward, softmax, sum over rows (bias gradients), matmul's column sums,
 * permute and block copies (slice), the softmax family (softmax and logSoftmax forward and
 * backward, crossEntropy, crossEntropyWithLabels), l2Normalize forward and backward, and the flat
 * kernels fill, accumulate and same-shape add. "old" forces the earlier kernels through the ops' mode
 * switches (one workgroup per row with a tree reduction; one invocation per element), "new" is the
 * automatic choice. Each iteration runs the op REPEATS times and waits for the GPU
 * (`gpu().sync()`, ~10 ms on its own in Deno), so times are real.
 * ROWS_BENCH_SHAPES=6336x96,64x65536 keeps some of the row shapes; `deno bench --filter` keeps
 * some of the groups. The flat kernels' "old" variant dispatches their one-element-per-invocation
 * entry points directly (the ops always take the vec4 ones on pooled buffers).
 * @module
 */
import { gpu, initGpu } from "../src/gpu/device.ts";
import { flatWorkgroups } from "../src/gpu/launch.ts";
import { l2NormalizeBackward } from "../src/ops/reduction/backward.ts";
import { softmaxBackward } from "../src/ops/softmax/backward.ts";
import { sumBlocks } from "../src/ops/matmul/forward.ts";
import { layerNorm, layerNormBackward } from "../src/ops/normalization/forward.ts";
import { add } from "../src/ops/elementwise/forward.ts";
import {
  l2Normalize,
  setReductionMode,
  setRowKernelMode,
  sum,
} from "../src/ops/reduction/forward.ts";
import { permute, setCopyBlocksMode, setPermuteMode, slice } from "../src/ops/shape/forward.ts";
import {
  crossEntropy,
  crossEntropyWithLabels,
  logSoftmax,
  softmax,
} from "../src/ops/softmax/forward.ts";
import { accumulateInto, full, Tensor, tensor } from "../src/tensor/tensor.ts";
import { randomValues } from "./random_values.ts";

await initGpu();

const REPEATS = 4;

/** Sets every mode switch to the earlier kernels (`old`) or to the automatic choice. */
function useVariant(variant: "old" | "new"): void {
  const old = variant === "old";
  setRowKernelMode(old ? "workgroup" : undefined);
  setReductionMode(old ? "workgroup" : undefined);
  setPermuteMode(old ? "elements" : undefined);
  setCopyBlocksMode(old ? "elements" : undefined);
}

function benchPair(group: string, run: (variant: "old" | "new") => Tensor[], large = false) {
  for (const variant of ["old", "new"] as const) {
    Deno.bench(`${group} ${variant}`, {
      group,
      baseline: variant === "old",
      n: large ? 3 : 8,
      warmup: 1,
    }, async () => {
      useVariant(variant);
      for (let repeat = 0; repeat < REPEATS; repeat++) {
        for (const result of run(variant)) result.dispose();
      }
      await gpu().sync();
      useVariant("new");
    });
  }
}

const wanted = Deno.env.get("ROWS_BENCH_SHAPES")?.split(",");
const shapes: [number, number][] = [
  [6336, 96],
  [4160, 384],
  [64, 1024],
  [64, 65536],
  [2048, 1024],
];

/** The one-element-per-invocation kernels that fill, accumulate and `add` used before vec4. */
function flatOld(
  kernel: "tensor/fill" | "tensor/accumulate" | "elementwise/binary",
  buffers: Tensor[],
): void {
  const count = buffers[0].size;
  const words = new Uint32Array(64);
  words[0] = count;
  new Float32Array(words.buffer, 4, 1)[0] = kernel === "elementwise/binary" ? 0 : 0.5;
  gpu().dispatch({
    kernel,
    entryPoint: "main",
    buffers: buffers.map((t) => t.buffer),
    params: kernel === "elementwise/binary" ? words : words.subarray(0, 2),
    workgroups: flatWorkgroups(count),
  });
}

for (const [rows, length] of shapes) {
  const label = `${rows}x${length}`;
  if (wanted && !wanted.includes(label)) continue;
  const large = rows * length > 1e6;
  const x = tensor(randomValues(rows * length, 1), [rows, length]);
  const gradOut = tensor(randomValues(rows * length, 2), [rows, length]);
  const weight = tensor(randomValues(length, 3), [length]);
  const bias = tensor(randomValues(length, 4), [length]);
  const rowMean = tensor(randomValues(rows, 5), [rows]);
  const rowRstd = tensor(randomValues(rows, 6), [rows]);
  benchPair(`layerNorm ${label}`, () => [layerNorm(x, weight, bias)], large);
  benchPair(`layerNormBackward+affine ${label}`, () => {
    const { gradX, gradWeight, gradBias } = layerNormBackward(
      x,
      rowMean,
      rowRstd,
      weight,
      gradOut,
      true,
    );
    return [gradX, gradWeight!, gradBias!];
  }, large);
  benchPair(`softmax ${label}`, () => [softmax(x)], large);
  const y = softmax(x);
  const logY = logSoftmax(x);
  const labels = tensor(
    Array.from({ length: rows }, (_, row) => (row * 7) % length),
    [rows],
    "i32",
  );
  benchPair(`logSoftmax ${label}`, () => [logSoftmax(x)], large);
  benchPair(`softmaxBackward ${label}`, () => [softmaxBackward(false, y, gradOut, 1)], large);
  benchPair(`logSoftmaxBackward ${label}`, () => [softmaxBackward(true, logY, gradOut, 1)], large);
  benchPair(`crossEntropy ${label}`, () => [crossEntropy(y, logY)], large);
  benchPair(`crossEntropyWithLabels ${label}`, () => [crossEntropyWithLabels(x, labels)], large);
  benchPair(`l2Normalize ${label}`, () => [l2Normalize(x)], large);
  benchPair(`l2NormalizeBackward ${label}`, () => [l2NormalizeBackward(x, gradOut, 1e-12)], large);
  benchPair(`fill ${label}`, (variant) => {
    if (variant === "new") return [full([rows, length], 0.5)];
    const result = Tensor.empty([rows, length]);
    flatOld("tensor/fill", [result]);
    return [result];
  }, large);
  benchPair(`accumulate ${label}`, (variant) => {
    if (variant === "new") accumulateInto(gradOut, x, 1e-3);
    else flatOld("tensor/accumulate", [gradOut, x]);
    return [];
  }, large);
  benchPair(`add same shapes ${label}`, (variant) => {
    if (variant === "new") return [add(x, gradOut)];
    const result = Tensor.empty([rows, length]);
    flatOld("elementwise/binary", [x, gradOut, result]);
    return [result];
  }, large);
  benchPair(`sum axis 0 ${label}`, () => [sum(x, 0)], large);
  benchPair(
    `sumBlocks ${label}`,
    (variant) => [sumBlocks(x, rows, [length], variant === "old" ? 1 : undefined)],
    large,
  );
  benchPair(`slice half of last axis ${label}`, () => [slice(x, 1, 0, length >> 1)], large);
}

const permuteInput = tensor(randomValues(32 * 65 * 3 * 3 * 32, 7), [32, 65, 3, 3, 32]);
benchPair("permute [32, 65, 3, 3, 32] by [2, 0, 3, 1, 4]", () => [
  permute(permuteInput, [2, 0, 3, 1, 4]),
]);
const square = tensor(randomValues(768 * 768, 8), [768, 768]);
benchPair("transpose [768, 768]", () => [permute(square, [1, 0])]);
