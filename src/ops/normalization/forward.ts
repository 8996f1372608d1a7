/**
 * Normalization ops (forward): `layerNorm` over the last axis. Its gradient rule is in
 * src/ops/normalization/backward.ts.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import { needsGrad, record } from "../../tensor/tape.ts";
import { castValues } from "../cast/forward.ts";
import { formatShape, Tensor } from "../../tensor/tensor.ts";
import { requireF32 } from "../elementwise/forward.ts";
import { lastAxisRows, rowLaunch, sum } from "../reduction/forward.ts";

/** Attributes of the normalization ops, keyed by op name. */
export interface NormalizationOps {
  /**
   * LayerNorm over the last axis. Inputs are `[x]`, `[x, weight]`, `[x, bias]` or
   * `[x, weight, bias]` as the flags say; saved: `[x, mean, rstd, weight?]`, x as an f16 copy
   * with `savedInput: "f16"`.
   */
  layerNorm: { eps: number; hasWeight: boolean; hasBias: boolean };
}

/** Options of `layerNorm`. */
export interface LayerNormOptions {
  /**
   * How the backward keeps x: "f32" (the default, x itself) or "f16", an f16 copy (half the bytes;
   * mixed precision). The forward is f32 either way; the gradients are then those of x rounded to
   * f16 (the row statistics stay the exact ones).
   */
  savedInput?: "f32" | "f16";
}

/**
 * The launch of the LayerNorm forward and backward row kernels: `rowLaunch`'s, with the vec4 form
 * of `short_rows` where the row length is a multiple of 4.
 */
function layerNormLaunch(rows: number, length: number) {
  const launch = rowLaunch(rows, length);
  if (launch.entryPoint !== "short_rows" || length % 4 !== 0) return launch;
  return { ...launch, entryPoint: "short_rows_vec4" };
}

/** layer_norm.wgsl's MAX_ROW_VEC4S: the longest row (in vec4s) its forward keeps in registers. */
const MAX_ROW_VEC4S = 32;

/**
 * `layerNormLaunch` of the forward, whose `short_rows_vec4` keeps rows of up to MAX_ROW_VEC4S
 * vec4s in registers (x loaded once, not once per pass; the backward's two-array form of the same
 * idea ran slower on lavapipe, 2.3-2.6 against 1.8 ms a launch at [4352, 64], so it has none).
 */
function layerNormForwardLaunch(rows: number, length: number) {
  const launch = layerNormLaunch(rows, length);
  if (launch.entryPoint !== "short_rows_vec4") return launch;
  const rowVec4s = length / 4 <= MAX_ROW_VEC4S ? length / 4 : 0;
  return { ...launch, constants: { ...launch.constants, ROW_VEC4S: rowVec4s } };
}

/**
 * LayerNorm over the last axis as PyTorch's `F.layer_norm`: `(x - mean) / sqrt(var + eps) *
 * weight + bias`, with the biased variance; `weight` and `bias` have shape `[last axis]`.
 */
export function layerNorm(
  x: Tensor,
  weight?: Tensor,
  bias?: Tensor,
  eps = 1e-5,
  options: LayerNormOptions = {},
): Tensor {
  requireF32("layerNorm", x);
  const { rows, length } = lastAxisRows("layerNorm", x);
  for (const [what, parameter] of [["weight", weight], ["bias", bias]] as const) {
    if (!parameter) continue;
    requireF32("layerNorm", parameter, what);
    if (parameter.rank !== 1 || parameter.shape[0] !== length) {
      throw new ShapeError(
        `layerNorm: ${what} must have shape [${length}] for x ${formatShape(x.shape)}, got ` +
          formatShape(parameter.shape),
      );
    }
  }
  const output = Tensor.empty(x.shape);
  const rowMean = Tensor.empty([rows]);
  const rowRstd = Tensor.empty([rows]);
  const words = new Uint32Array([rows, length, 0, (weight ? 1 : 0) | (bias ? 2 : 0)]);
  new Float32Array(words.buffer, 8, 1)[0] = eps;
  gpu().dispatch({
    kernel: "normalization/layer_norm",
    ...layerNormForwardLaunch(rows, length),
    buffers: [
      x.buffer,
      (weight ?? x).buffer,
      (bias ?? x).buffer,
      output.buffer,
      rowMean.buffer,
      rowRstd.buffer,
    ],
    params: words,
  });
  const inputs = [x];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  const half = options.savedInput === "f16" && needsGrad(inputs) ? castValues(x, "f16") : undefined;
  const kept = half ?? x;
  const saved = weight ? [kept, rowMean, rowRstd, weight] : [kept, rowMean, rowRstd];
  record("layerNorm", inputs, output, { eps, hasWeight: !!weight, hasBias: !!bias }, saved);
  half?.dispose(); // the tape holds its own handle
  rowMean.dispose();
  rowRstd.dispose();
  return output;
}

/**
 * Gradients of `layerNorm` (used by its rule) from the saved row statistics: `gradX`, and when
 * asked the weight and bias gradients summed over rows (per-chunk partials, then a sum; no atomics).
 */
export function layerNormBackward(
  x: Tensor,
  rowMean: Tensor,
  rowRstd: Tensor,
  weight: Tensor | undefined,
  gradOut: Tensor,
  wantAffine: boolean,
): { gradX: Tensor; gradWeight?: Tensor; gradBias?: Tensor } {
  const { rows, length } = lastAxisRows("layerNorm", x);
  const gradX = Tensor.empty(x.shape);
  gpu().dispatch({
    kernel: "normalization/layer_norm_backward",
    ...layerNormLaunch(rows, length),
    buffers: [
      x.buffer,
      gradOut.buffer,
      rowMean.buffer,
      rowRstd.buffer,
      (weight ?? x).buffer,
      gradX.buffer,
    ],
    params: new Uint32Array([rows, length, weight ? 1 : 0, 0]),
  });
  if (!wantAffine) return { gradX };
  // Chunks of at least 32 rows, and enough of them (about 16k invocations) to use every core.
  const wantedChunks = Math.min(Math.ceil(rows / 32), Math.ceil(16384 / Math.max(1, length)));
  const chunkRows = Math.max(1, Math.ceil(rows / Math.max(1, Math.min(wantedChunks, 65535))));
  const chunks = Math.max(1, Math.ceil(rows / chunkRows));
  const partialWeight = Tensor.empty([chunks, length]);
  const partialBias = Tensor.empty([chunks, length]);
  // four neighbouring columns per invocation where the columns come in fours, in workgroups no
  // wider than the row's vec4s
  const vec4 = length % 4 === 0;
  const lanes = vec4 ? length / 4 : length;
  const workgroupSize = Math.min(64, Math.max(8, 2 ** Math.ceil(Math.log2(lanes))));
  gpu().dispatch({
    kernel: "normalization/layer_norm_backward_affine",
    entryPoint: vec4 ? "main_vec4" : "main",
    constants: { WORKGROUP_SIZE: workgroupSize },
    buffers: [
      x.buffer,
      gradOut.buffer,
      rowMean.buffer,
      rowRstd.buffer,
      partialWeight.buffer,
      partialBias.buffer,
    ],
    params: new Uint32Array([rows, length, 0, chunkRows]),
    workgroups: [Math.ceil(lanes / workgroupSize), chunks],
  });
  const gradWeight = sum(partialWeight, 0);
  const gradBias = sum(partialBias, 0);
  partialWeight.dispose();
  partialBias.dispose();
  return { gradX, gradWeight, gradBias };
}
