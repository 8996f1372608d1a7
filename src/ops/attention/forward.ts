/**
 * Attention ops (forward). Their gradient rules are in src/ops/attention/backward.ts.
 *
 * `attention` is fused (flash style): one kernel streams key/value tiles through workgroup memory
 * with an online softmax, so the N x N score matrix is never stored; it also writes the per-row
 * log-sum-exp, which the backward kernels use to recompute the probabilities. Short sequences
 * (tokens x head size up to `ROWS_MAX_TOKENS_TIMES_HEAD_SIZE`) go to the "rows" kernels instead:
 * one invocation per query (or key) row, no workgroup memory or barriers.
 * `selfAttention` runs the same kernels on the packed [B, N, 3 D] output of a qkv projection: the
 * kernels read q, k and v through strides, write the output with the heads merged ([B, N, D]) and,
 * in the backward, dq, dk and dv straight into one [B, N, 3 D] gradient, so a ViT block needs no
 * reshape, permute or split around attention.
 * `attentionReference` and `attentionProbabilities` are the plain unfused path (scores, softmax,
 * weighted sum as separate kernels), kept for tests and attention maps; they are not recorded.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import { flatWorkgroups } from "../../gpu/launch.ts";
import type { KernelName } from "../../gpu/pipeline_cache.ts";
import { record } from "../../tensor/tape.ts";
import { formatShape, Tensor } from "../../tensor/tensor.ts";

/** Attributes of the attention ops, keyed by op name. */
export interface AttentionOps {
  /** Fused scaled dot-product attention; saved: q, k, v, output, log-sum-exp. */
  attention: { scale: number };
  /** Fused self-attention on a packed qkv [B, N, 3 D]; saved: qkv, output, log-sum-exp. */
  selfAttention: { heads: number; scale: number };
}

/** Options of `attention`. */
export interface AttentionOptions {
  /** Multiplies the scores q k^T before the softmax; default 1 / sqrt(D). */
  scale?: number;
}

/** The largest head size the fused kernels support. */
export const MAX_HEAD_SIZE = 128;

const LOG2_E = 1.4426950408889634;

/**
 * Keys (or queries) whose scores one blocked workgroup holds at a time (a multiple of 4): at
 * N <= 256 one tile, so the forward's softmax needs no rescaling.
 */
const SCORE_TILE = 256;

/**
 * Kernel variants of the fused attention ops: "auto" picks "rows" for short sequences (see
 * `ROWS_MAX_TOKENS_TIMES_HEAD_SIZE`) and "blocked" otherwise.
 */
export type AttentionKernelVariant = "auto" | "rows" | "blocked";

/**
 * Largest tokens x head size (head size counted as at least 16) for which "auto" picks the "rows"
 * kernels. Measured on llvmpipe (2 shared cores, packed self-attention with 4 heads, forward and
 * forward + backward, variants alternated in one process): rows won at N <= 65 for d = 16
 * (1040) and at N = 17 for d = 64 (1088), broke even at N = 197, d = 16 (3152) and lost at
 * N = 50, d = 64 (3200).
 */
export const ROWS_MAX_TOKENS_TIMES_HEAD_SIZE = 1152;

/**
 * Which fused kernels the attention ops dispatch: "auto" (the default: "rows" for short sequences,
 * "blocked" otherwise), "rows" (one invocation per query or key row, no workgroup memory or
 * barriers; fastest at small N) or "blocked" (8 rows per workgroup, vec4 register accumulators,
 * scores of a key tile in workgroup memory). `scoreTile` is the key tile of the blocked kernels;
 * `rowsMaxTokensTimesHeadSize` the "auto" threshold.
 */
export const attentionKernels: {
  variant: AttentionKernelVariant;
  scoreTile: number;
  rowsMaxTokensTimesHeadSize: number;
} = {
  variant: "auto",
  scoreTile: SCORE_TILE,
  rowsMaxTokensTimesHeadSize: ROWS_MAX_TOKENS_TIMES_HEAD_SIZE,
};

/** The kernel variant the fused ops dispatch for `tokens` tokens of head size `headSize`. */
export function attentionVariant(
  tokens: number,
  headSize: number,
): Exclude<AttentionKernelVariant, "auto"> {
  const variant = attentionKernels.variant;
  if (variant !== "auto") return variant;
  const work = tokens * Math.max(headSize, 16);
  return work <= attentionKernels.rowsMaxTokensTimesHeadSize ? "rows" : "blocked";
}

/** Invocations per workgroup of the rows kernels. */
const ROWS_WORKGROUP_SIZE = 64;

/** Rows (queries, or keys for dk/dv) per workgroup of the blocked kernels. */
const BLOCKED_ROWS = 8;

/** Sizes of a validated attention call. */
export interface AttentionSizes {
  /** Batch size B. */
  batch: number;
  /** Heads H. */
  heads: number;
  /** Tokens N. */
  tokens: number;
  /** Head size D. */
  headSize: number;
}

/** Checks q (and k, v when given) are [B, H, N, D] of one shape and f32; returns the sizes. */
export function attentionSizes(
  op: string,
  q: Tensor,
  k: Tensor,
  v?: Tensor,
): AttentionSizes {
  const named: [string, Tensor | undefined][] = [["q", q], ["k", k], ["v", v]];
  for (const [name, input] of named) {
    if (!input) continue;
    if (input.rank !== 4) {
      throw new ShapeError(
        `${op}: ${name} must have rank 4 [batch, heads, tokens, headSize], got ` +
          `${formatShape(input.shape)} (rank ${input.rank})`,
      );
    }
    if (input.dtype !== "f32") {
      throw new ShapeError(`${op}: ${name} must be f32, got ${input.describe()}`);
    }
  }
  for (const [name, input] of named.slice(1)) {
    if (input && formatShape(input.shape) !== formatShape(q.shape)) {
      throw new ShapeError(
        `${op}: shapes differ: q ${formatShape(q.shape)} vs ${name} ${formatShape(input.shape)}`,
      );
    }
  }
  const [batch, heads, tokens, headSize] = q.shape;
  return { batch, heads, tokens, headSize };
}

function defaultScale(op: string, scale: number | undefined, headSize: number): number {
  const value = scale ?? 1 / Math.sqrt(headSize);
  if (!Number.isFinite(value)) {
    throw new ShapeError(`${op}: scale must be a finite number, got ${value}`);
  }
  return value;
}

/**
 * vec4s per row of the blocked kernels (their HEAD_VECS) for head size `headSize`: rounded up to a
 * power of two (2..32), so that there are few pipeline variants to compile (each takes seconds on
 * llvmpipe); columns past the head size are zero and cost only arithmetic.
 */
function blockedHeadVecs(headSize: number): number {
  return Math.max(2, 2 ** Math.ceil(Math.log2(Math.ceil(headSize / 4))));
}

function checkHeadSize(op: string, sizes: AttentionSizes, input: string): void {
  if (sizes.headSize > MAX_HEAD_SIZE || sizes.headSize < 1) {
    throw new ShapeError(
      `${op}: head size must be 1..${MAX_HEAD_SIZE}, got ${sizes.headSize} (${input})`,
    );
  }
  const heads = sizes.batch * sizes.heads;
  if (heads > gpu().limits.maxComputeWorkgroupsPerDimension) {
    throw new ShapeError(
      `${op}: batch x heads ${heads} exceeds the device limit of ` +
        `${gpu().limits.maxComputeWorkgroupsPerDimension} workgroups per dimension`,
    );
  }
}

/**
 * Where the kernels find element (b, h, row, c): for q, k, v (and their gradients) at
 * `offset + b * inBatch + h * inHead + row * inRow + c` with offset qOffset, kOffset or vOffset;
 * for the output (and its gradient) at `b * outBatch + h * outHead + row * outRow + c`.
 */
interface AttentionLayout {
  qOffset: number;
  kOffset: number;
  vOffset: number;
  inBatch: number;
  inHead: number;
  inRow: number;
  outBatch: number;
  outHead: number;
  outRow: number;
}

/** Layout of separate contiguous q, k, v and output tensors [B, H, N, D]. */
function separateLayout({ heads, tokens, headSize }: AttentionSizes): AttentionLayout {
  const head = tokens * headSize;
  return {
    qOffset: 0,
    kOffset: 0,
    vOffset: 0,
    inBatch: heads * head,
    inHead: head,
    inRow: headSize,
    outBatch: heads * head,
    outHead: head,
    outRow: headSize,
  };
}

/** Layout of a packed qkv [B, N, 3, H, d] and an output with heads merged [B, N, H, d]. */
function packedLayout({ heads, tokens, headSize }: AttentionSizes): AttentionLayout {
  const width = heads * headSize;
  return {
    qOffset: 0,
    kOffset: width,
    vOffset: 2 * width,
    inBatch: tokens * 3 * width,
    inHead: headSize,
    inRow: 3 * width,
    outBatch: tokens * width,
    outHead: headSize,
    outRow: width,
  };
}

/** The uniform parameters shared by the fused kernels. */
function fusedParams(sizes: AttentionSizes, layout: AttentionLayout, scale: number): Uint32Array {
  const params = new Uint32Array(16);
  const floats = new Float32Array(params.buffer);
  params[0] = sizes.batch * sizes.heads;
  params[1] = sizes.tokens;
  params[2] = sizes.headSize;
  params[3] = sizes.heads;
  floats[4] = scale;
  floats[5] = scale * LOG2_E;
  params.set([
    layout.qOffset,
    layout.kOffset,
    layout.vOffset,
    layout.inBatch,
    layout.inHead,
    layout.inRow,
    layout.outBatch,
    layout.outHead,
    layout.outRow,
  ], 6);
  return params;
}

/** Kernel, entry point, override constants and workgroups of one fused attention kernel. */
interface FusedLaunch {
  kernel: KernelName;
  entryPoint: string;
  constants: Record<string, number>;
  workgroups: [number, number];
}

/**
 * The launch of fused kernel `name` ("forward", "backward_query" or "backward_key_value") in the
 * variant picked for `sizes`.
 */
function fusedLaunch(
  name: "forward" | "backward_query" | "backward_key_value",
  sizes: AttentionSizes,
): FusedLaunch {
  const variant = attentionVariant(sizes.tokens, sizes.headSize);
  const heads = sizes.batch * sizes.heads;
  if (variant === "rows") {
    // one pipeline per head size: the column loops and the last partial vec4 are constants
    const headVecs = Math.ceil(sizes.headSize / 4);
    return {
      kernel: `attention/rows_${name}`,
      entryPoint: "main",
      constants: {
        WORKGROUP_SIZE: ROWS_WORKGROUP_SIZE,
        HEAD_VECS: headVecs,
        LAST_COLUMNS: sizes.headSize - 4 * (headVecs - 1),
      },
      workgroups: flatWorkgroups(heads * sizes.tokens, ROWS_WORKGROUP_SIZE),
    };
  }
  const headVecs = blockedHeadVecs(sizes.headSize);
  return {
    kernel: `attention/${name}`,
    entryPoint: "main",
    constants: {
      HEAD_VECS: headVecs,
      LANES: Math.max(8, headVecs),
      QUADS: attentionKernels.scoreTile / 4,
    },
    workgroups: [Math.ceil(sizes.tokens / BLOCKED_ROWS), heads],
  };
}

/** Dispatches the fused forward: writes `output` and `logSumExp` [B * H, N]. */
function dispatchForward(
  sources: [GPUBuffer, GPUBuffer, GPUBuffer],
  output: Tensor,
  logSumExp: Tensor,
  sizes: AttentionSizes,
  layout: AttentionLayout,
  scale: number,
): void {
  gpu().dispatch({
    ...fusedLaunch("forward", sizes),
    buffers: [...sources, output.buffer, logSumExp.buffer],
    params: fusedParams(sizes, layout, scale),
  });
}

/**
 * Dispatches the fused backward: delta, then dq into `gradQuery`, then dk and dv into `gradKey`
 * and `gradValue` (or both into `gradKey` when `gradValue` is absent: the packed gradient).
 */
function dispatchBackward(
  gradOutput: Tensor,
  output: Tensor,
  logSumExp: Tensor,
  sources: [GPUBuffer, GPUBuffer, GPUBuffer],
  gradQuery: GPUBuffer,
  gradKey: GPUBuffer,
  gradValue: GPUBuffer | undefined,
  sizes: AttentionSizes,
  layout: AttentionLayout,
  scale: number,
): void {
  const { batch, heads, tokens, headSize } = sizes;
  const rows = batch * heads * tokens;
  const delta = Tensor.empty([batch * heads, tokens]);
  gpu().dispatch({
    kernel: "attention/backward_delta",
    constants: { WORKGROUP_SIZE: 64 },
    buffers: [gradOutput.buffer, output.buffer, delta.buffer],
    params: new Uint32Array([
      rows,
      headSize,
      tokens,
      heads,
      layout.outBatch,
      layout.outHead,
      layout.outRow,
    ]),
    workgroups: flatWorkgroups(rows, 64),
  });
  const params = fusedParams(sizes, layout, scale);
  const saved = [gradOutput.buffer, logSumExp.buffer, delta.buffer];
  gpu().dispatch({
    ...fusedLaunch("backward_query", sizes),
    buffers: [...sources, ...saved, gradQuery],
    params,
  });
  // the packed gradient is one writable binding; the value slot then gets a placeholder
  const placeholder = gradValue ? undefined : Tensor.empty([1]);
  const keyValue = fusedLaunch("backward_key_value", sizes);
  gpu().dispatch({
    ...keyValue,
    constants: { ...keyValue.constants, SEPARATE_VALUE_GRAD: gradValue ? 1 : 0 },
    buffers: [...sources, ...saved, gradKey, gradValue ?? placeholder!.buffer],
    params,
  });
  placeholder?.dispose();
  delta.dispose();
}

/** Runs the fused forward kernel; returns the output [B, H, N, D] and log-sum-exp [B, H, N]. */
export function attentionForward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  scale: number,
): { output: Tensor; logSumExp: Tensor } {
  const sizes = attentionSizes("attention", q, k, v);
  const { batch, heads, tokens } = sizes;
  if (q.size > 0) checkHeadSize("attention", sizes, `q ${formatShape(q.shape)}`);
  const output = Tensor.empty(q.shape);
  const logSumExp = Tensor.empty([batch, heads, tokens]);
  if (output.size === 0) return { output, logSumExp };
  const sources: [GPUBuffer, GPUBuffer, GPUBuffer] = [q.buffer, k.buffer, v.buffer];
  dispatchForward(sources, output, logSumExp, sizes, separateLayout(sizes), scale);
  return { output, logSumExp };
}

/**
 * Fused multi-head attention: `softmax(q k^T * scale) v` over the key axis, for q, k, v of shape
 * [B, H, N, D] (D up to 128). Output [B, H, N, D]. Recorded as "attention"; the backward
 * recomputes the probabilities from q, k and the saved per-row log-sum-exp.
 */
export function attention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions = {},
): Tensor {
  const sizes = attentionSizes("attention", q, k, v);
  const scale = defaultScale("attention", options.scale, sizes.headSize);
  const { output, logSumExp } = attentionForward(q, k, v, scale);
  record("attention", [q, k, v], output, { scale }, [q, k, v, output, logSumExp]);
  logSumExp.dispose(); // the tape holds its own handle when recorded
  return output;
}

/** Gradients of `attention` given the saved values; returns [dq, dk, dv]. */
export function attentionBackward(
  gradOutput: Tensor,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  output: Tensor,
  logSumExp: Tensor,
  scale: number,
): [Tensor, Tensor, Tensor] {
  const sizes = attentionSizes("attention backward", q, k, v);
  if (gradOutput.size !== q.size || output.size !== q.size) {
    throw new ShapeError(
      `attention backward: gradient ${formatShape(gradOutput.shape)} and output ` +
        `${formatShape(output.shape)} must match q ${formatShape(q.shape)}`,
    );
  }
  if (q.size > 0) checkHeadSize("attention backward", sizes, `q ${formatShape(q.shape)}`);
  const gradQuery = Tensor.empty(q.shape);
  const gradKey = Tensor.empty(q.shape);
  const gradValue = Tensor.empty(q.shape);
  if (q.size === 0) return [gradQuery, gradKey, gradValue];
  dispatchBackward(
    gradOutput,
    output,
    logSumExp,
    [q.buffer, k.buffer, v.buffer],
    gradQuery.buffer,
    gradKey.buffer,
    gradValue.buffer,
    sizes,
    separateLayout(sizes),
    scale,
  );
  return [gradQuery, gradKey, gradValue];
}

/** Options of `selfAttention`. */
export interface SelfAttentionOptions {
  /** Multiplies the scores q k^T before the softmax; default 1 / sqrt(head size). */
  scale?: number;
}

/**
 * Checks `qkv` is an f32 [B, N, 3 D] with D a multiple of `heads`; returns the sizes (head size
 * D / heads).
 */
export function selfAttentionSizes(op: string, qkv: Tensor, heads: number): AttentionSizes {
  if (!Number.isInteger(heads) || heads < 1) {
    throw new ShapeError(`${op}: heads must be a whole number >= 1, got ${heads}`);
  }
  if (qkv.rank !== 3) {
    throw new ShapeError(
      `${op}: qkv must have rank 3 [batch, tokens, 3 x dim], got ${formatShape(qkv.shape)} ` +
        `(rank ${qkv.rank})`,
    );
  }
  if (qkv.dtype !== "f32") {
    throw new ShapeError(`${op}: qkv must be f32, got ${qkv.describe()}`);
  }
  const [batch, tokens, width] = qkv.shape;
  if (width % (3 * heads) !== 0) {
    throw new ShapeError(
      `${op}: last axis of qkv ${formatShape(qkv.shape)} must be 3 x heads x headSize, got ` +
        `${width} for ${heads} heads (not a multiple of ${3 * heads})`,
    );
  }
  return { batch, heads, tokens, headSize: width / (3 * heads) };
}

/**
 * Fused multi-head self-attention on the packed output of a qkv projection: `qkv` [B, N, 3 D] in
 * PyTorch's layout (viewed as [B, N, 3, heads, D / heads]: q, k and v of head h at
 * `qkv[..., 0 | 1 | 2, h, :]`). Returns `softmax(q k^T * scale) v` with the heads merged,
 * [B, N, D] (what `out.transpose(1, 2).reshape(B, N, D)` gives in DINO's Attention). Head size up
 * to 128. Recorded as "selfAttention"; the backward writes dq, dk and dv into one [B, N, 3 D].
 */
export function selfAttention(
  qkv: Tensor,
  heads: number,
  options: SelfAttentionOptions = {},
): Tensor {
  const sizes = selfAttentionSizes("selfAttention", qkv, heads);
  const scale = defaultScale("selfAttention", options.scale, sizes.headSize);
  const { batch, tokens, headSize } = sizes;
  const described = `qkv ${formatShape(qkv.shape)} with ${heads} heads`;
  if (qkv.size > 0) checkHeadSize("selfAttention", sizes, described);
  const output = Tensor.empty([batch, tokens, heads * headSize]);
  const logSumExp = Tensor.empty([batch, heads, tokens]);
  if (output.size > 0) {
    const sources: [GPUBuffer, GPUBuffer, GPUBuffer] = [qkv.buffer, qkv.buffer, qkv.buffer];
    dispatchForward(sources, output, logSumExp, sizes, packedLayout(sizes), scale);
  }
  record("selfAttention", [qkv], output, { heads, scale }, [qkv, output, logSumExp]);
  logSumExp.dispose(); // the tape holds its own handle when recorded
  return output;
}

/** Gradient of `selfAttention` given the saved values: dqkv [B, N, 3 D], one tensor. */
export function selfAttentionBackward(
  gradOutput: Tensor,
  qkv: Tensor,
  output: Tensor,
  logSumExp: Tensor,
  heads: number,
  scale: number,
): Tensor {
  const sizes = selfAttentionSizes("selfAttention backward", qkv, heads);
  const { batch, tokens, headSize } = sizes;
  const outputSize = batch * tokens * heads * headSize;
  if (gradOutput.size !== outputSize || output.size !== outputSize) {
    throw new ShapeError(
      `selfAttention backward: gradient ${formatShape(gradOutput.shape)} and output ` +
        `${formatShape(output.shape)} must be [${batch}, ${tokens}, ${heads * headSize}]`,
    );
  }
  const gradQkv = Tensor.empty(qkv.shape);
  if (qkv.size === 0) return gradQkv;
  checkHeadSize("selfAttention backward", sizes, `qkv ${formatShape(qkv.shape)}`);
  dispatchBackward(
    gradOutput,
    output,
    logSumExp,
    [qkv.buffer, qkv.buffer, qkv.buffer],
    gradQkv.buffer,
    gradQkv.buffer,
    undefined,
    sizes,
    packedLayout(sizes),
    scale,
  );
  return gradQkv;
}

/** Dispatches the scores and softmax kernels into `probabilities` [B, H, N, N]. */
function dispatchProbabilities(
  query: GPUBuffer,
  key: GPUBuffer,
  probabilities: Tensor,
  sizes: AttentionSizes,
  layout: AttentionLayout,
  scale: number,
): void {
  const count = probabilities.size;
  if (count === 0) return;
  const { batch, heads, tokens, headSize } = sizes;
  const scoreParams = new Uint32Array(12);
  scoreParams.set([count, tokens, headSize, 0, heads, layout.qOffset, layout.kOffset]);
  scoreParams.set([layout.inBatch, layout.inHead, layout.inRow], 7);
  new Float32Array(scoreParams.buffer, 12, 1)[0] = scale;
  gpu().dispatch({
    kernel: "attention/reference_scores",
    buffers: [query, key, probabilities.buffer],
    params: scoreParams,
    workgroups: flatWorkgroups(count),
  });
  const rows = batch * heads * tokens;
  gpu().dispatch({
    kernel: "attention/reference_softmax",
    constants: { WORKGROUP_SIZE: 64 },
    buffers: [probabilities.buffer],
    params: new Uint32Array([rows, tokens]),
    workgroups: flatWorkgroups(rows, 64),
  });
}

/**
 * Softmax probabilities `softmax(q k^T * scale)` over the key axis, [B, H, N, N], computed with
 * plain kernels (the unfused path; for attention maps and tests). Not recorded for autograd.
 */
export function attentionProbabilities(q: Tensor, k: Tensor, scale?: number): Tensor {
  const sizes = attentionSizes("attentionProbabilities", q, k);
  const { batch, heads, tokens, headSize } = sizes;
  const value = defaultScale("attentionProbabilities", scale, headSize);
  const probabilities = Tensor.empty([batch, heads, tokens, tokens]);
  dispatchProbabilities(q.buffer, k.buffer, probabilities, sizes, separateLayout(sizes), value);
  return probabilities;
}

/**
 * Attention probabilities of a packed qkv [B, N, 3 D] (layout as in `selfAttention`):
 * `softmax(q k^T * scale)` per head, [B, heads, N, N], for attention maps. Not recorded for
 * autograd.
 */
export function selfAttentionProbabilities(qkv: Tensor, heads: number, scale?: number): Tensor {
  const sizes = selfAttentionSizes("selfAttentionProbabilities", qkv, heads);
  const { batch, tokens, headSize } = sizes;
  const value = defaultScale("selfAttentionProbabilities", scale, headSize);
  const probabilities = Tensor.empty([batch, heads, tokens, tokens]);
  dispatchProbabilities(qkv.buffer, qkv.buffer, probabilities, sizes, packedLayout(sizes), value);
  return probabilities;
}
/**
 * Plain unfused attention `softmax(q k^T * scale) v` that materialises the [B, H, N, N]
 * probabilities (reference for tests of the fused `attention`). Not recorded for autograd.
 */
export function attentionReference(q: Tensor, k: Tensor, v: Tensor, scale?: number): Tensor {
  const { tokens, headSize } = attentionSizes("attentionReference", q, k, v);
  const probabilities = attentionProbabilities(q, k, scale);
  const output = Tensor.empty(q.shape);
  const count = output.size;
  if (count > 0 && tokens > 0) {
    gpu().dispatch({
      kernel: "attention/reference_mix",
      buffers: [probabilities.buffer, v.buffer, output.buffer],
      params: new Uint32Array([count, tokens, headSize]),
      workgroups: flatWorkgroups(count),
    });
  }
  probabilities.dispose();
  return output;
}
