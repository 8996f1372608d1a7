/**
 * Attention ops (forward). Their gradient rules are in src/tensor/grad/attention.ts.
 *
 * `attention` is fused (flash style): one kernel streams key/value tiles through workgroup memory
 * with an online softmax, so the N x N score matrix is never stored; it also writes the per-row
 * log-sum-exp, which the backward kernels use to recompute the probabilities.
 * `attentionReference` and `attentionProbabilities` are the plain unfused path (scores, softmax,
 * weighted sum as separate kernels), kept for tests and attention maps; they are not recorded.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import { flatWorkgroups } from "../../gpu/launch.ts";
import { record } from "../tape.ts";
import { formatShape, Tensor } from "../tensor.ts";

/** Attributes of the attention ops, keyed by op name. */
export interface AttentionOps {
  /** Fused scaled dot-product attention; saved: q, k, v, output, log-sum-exp. */
  attention: { scale: number };
}

/** Options of `attention`. */
export interface AttentionOptions {
  /** Multiplies the scores q k^T before the softmax; default 1 / sqrt(D). */
  scale?: number;
}

/** The largest head size the fused kernels support. */
export const MAX_HEAD_SIZE = 128;

/** Invocations per workgroup of the fused kernels. */
const ROWS = 16;

/** Rows (query rows, or key rows for dk/dv) each invocation of the fused kernels owns. */
const BLOCK = 4;

const LOG2_E = 1.4426950408889634;

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

/** Tile configuration of the fused kernels for head size `headSize`. */
export function attentionTiling(headSize: number): {
  headVecs: number;
  keyTile: number;
  rows: number;
  block: number;
} {
  // vec4s per row, rounded up to a power of two (2..32): few pipeline variants to compile (each
  // takes seconds on llvmpipe); columns past the head size are zero and cost only arithmetic
  const headVecs = Math.max(2, 2 ** Math.ceil(Math.log2(Math.ceil(headSize / 4))));
  // two [tile, headVecs] vec4 tiles: 16 KiB at most (workgroup storage limit is 32 KiB)
  const keyTile = headVecs <= 16 ? 32 : 16;
  return { headVecs, keyTile, rows: ROWS, block: BLOCK };
}

function checkHeadSize(op: string, sizes: AttentionSizes, q: Tensor): void {
  if (sizes.headSize > MAX_HEAD_SIZE || sizes.headSize < 1) {
    throw new ShapeError(
      `${op}: head size must be 1..${MAX_HEAD_SIZE}, got ${sizes.headSize} (q ` +
        `${formatShape(q.shape)})`,
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

/** Runs the fused forward kernel; returns the output [B, H, N, D] and log-sum-exp [B, H, N]. */
export function attentionForward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  scale: number,
): { output: Tensor; logSumExp: Tensor } {
  const sizes = attentionSizes("attention", q, k, v);
  const { batch, heads, tokens, headSize } = sizes;
  if (q.size > 0) checkHeadSize("attention", sizes, q);
  const output = Tensor.empty(q.shape);
  const logSumExp = Tensor.empty([batch, heads, tokens]);
  if (output.size === 0) return { output, logSumExp };
  const tiling = attentionTiling(headSize);
  const params = new Uint32Array(4);
  params[0] = batch * heads;
  params[1] = tokens;
  params[2] = headSize;
  new Float32Array(params.buffer, 12, 1)[0] = scale * LOG2_E;
  gpu().dispatch({
    kernel: "attention_forward",
    constants: {
      ROWS: tiling.rows,
      BLOCK: tiling.block,
      KEY_TILE: tiling.keyTile,
      HEAD_VECS: tiling.headVecs,
    },
    buffers: [q.buffer, k.buffer, v.buffer, output.buffer, logSumExp.buffer],
    params,
    workgroups: [Math.ceil(tokens / (tiling.rows * tiling.block)), batch * heads],
  });
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
  const { batch, heads, tokens, headSize } = sizes;
  if (gradOutput.size !== q.size || output.size !== q.size) {
    throw new ShapeError(
      `attention backward: gradient ${formatShape(gradOutput.shape)} and output ` +
        `${formatShape(output.shape)} must match q ${formatShape(q.shape)}`,
    );
  }
  if (q.size > 0) checkHeadSize("attention backward", sizes, q);
  const gradQuery = Tensor.empty(q.shape);
  const gradKey = Tensor.empty(q.shape);
  const gradValue = Tensor.empty(q.shape);
  if (q.size === 0) return [gradQuery, gradKey, gradValue];
  const rows = batch * heads * tokens;
  const delta = Tensor.empty([batch, heads, tokens]);
  const deltaParams = new Uint32Array([rows, headSize]);
  gpu().dispatch({
    kernel: "attention_backward_delta",
    constants: { WORKGROUP_SIZE: 64 },
    buffers: [gradOutput.buffer, output.buffer, delta.buffer],
    params: deltaParams,
    workgroups: flatWorkgroups(rows, 64),
  });
  const tiling = attentionTiling(headSize);
  const params = new Uint32Array(5);
  params[0] = batch * heads;
  params[1] = tokens;
  params[2] = headSize;
  const floats = new Float32Array(params.buffer);
  floats[3] = scale;
  floats[4] = scale * LOG2_E;
  const workgroups = [Math.ceil(tokens / (tiling.rows * tiling.block)), batch * heads] as const;
  gpu().dispatch({
    kernel: "attention_backward_query",
    constants: {
      ROWS: tiling.rows,
      BLOCK: tiling.block,
      KEY_TILE: tiling.keyTile,
      HEAD_VECS: tiling.headVecs,
    },
    buffers: [
      q.buffer,
      k.buffer,
      v.buffer,
      gradOutput.buffer,
      logSumExp.buffer,
      delta.buffer,
      gradQuery.buffer,
    ],
    params,
    workgroups,
  });
  gpu().dispatch({
    kernel: "attention_backward_key_value",
    constants: {
      ROWS: tiling.rows,
      BLOCK: tiling.block,
      QUERY_TILE: tiling.keyTile,
      HEAD_VECS: tiling.headVecs,
    },
    buffers: [
      q.buffer,
      k.buffer,
      v.buffer,
      gradOutput.buffer,
      logSumExp.buffer,
      delta.buffer,
      gradKey.buffer,
      gradValue.buffer,
    ],
    params,
    workgroups,
  });
  delta.dispose();
  return [gradQuery, gradKey, gradValue];
}

/**
 * Softmax probabilities `softmax(q k^T * scale)` over the key axis, [B, H, N, N], computed with
 * plain kernels (the unfused path; for attention maps and tests). Not recorded for autograd.
 */
export function attentionProbabilities(q: Tensor, k: Tensor, scale?: number): Tensor {
  const { batch, heads, tokens, headSize } = attentionSizes("attentionProbabilities", q, k);
  const value = defaultScale("attentionProbabilities", scale, headSize);
  const probabilities = Tensor.empty([batch, heads, tokens, tokens]);
  const count = probabilities.size;
  if (count === 0) return probabilities;
  const scoreParams = new Uint32Array(4);
  scoreParams[0] = count;
  scoreParams[1] = tokens;
  scoreParams[2] = headSize;
  new Float32Array(scoreParams.buffer, 12, 1)[0] = value;
  gpu().dispatch({
    kernel: "attention_reference_scores",
    buffers: [q.buffer, k.buffer, probabilities.buffer],
    params: scoreParams,
    workgroups: flatWorkgroups(count),
  });
  const rows = batch * heads * tokens;
  gpu().dispatch({
    kernel: "attention_reference_softmax",
    constants: { WORKGROUP_SIZE: 64 },
    buffers: [probabilities.buffer],
    params: new Uint32Array([rows, tokens]),
    workgroups: flatWorkgroups(rows, 64),
  });
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
      kernel: "attention_reference_mix",
      buffers: [probabilities.buffer, v.buffer, output.buffer],
      params: new Uint32Array([count, tokens, headSize]),
      workgroups: flatWorkgroups(count),
    });
  }
  probabilities.dispose();
  return output;
}
