/**
 * Attention ops (forward). Their gradient rules are in src/ops/attention/backward.ts.
 *
 * `attention` is fused (flash style): one kernel streams key/value tiles through workgroup memory
 * with an online softmax, so the N x N score matrix is never stored; it also writes the per-row
 * log-sum-exp, which the backward kernels use to recompute the probabilities. Where the device
 * has subgroups of 8 or more, sequences up to 1025 tokens (head size 64; 50 on a GPU) go to the
 * "shared_rows" kernels instead (one invocation per query or key row, no workgroup memory or
 * barriers, the streamed rows loaded once per group of 8 lanes and passed round by
 * subgroupShuffle), longer ones to the "subgroup" kernels; without subgroups short sequences go to the "rows" kernels (the same
 * without the sharing). `attentionVariant` in ./choice.ts says which kernels run where, and why.
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
import { record } from "../../tensor/tape.ts";
import { formatShape, type Shape, Tensor } from "../../tensor/tensor.ts";
import { castValues, widenedToF32 } from "../cast/forward.ts";
import {
  type AttentionLayout,
  type AttentionSizes,
  attentionSizes,
  checkHeadSize,
  defaultScale,
  dispatchForward,
  packedLayout,
  separateLayout,
} from "./kernels.ts";
import { hasF16Form } from "./choice.ts";

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

/**
 * What the kernels read for f16 `inputs` (q, k, v; a packed qkv; the saved output): the inputs
 * themselves where the kernels picked for `sizes` have an f16 form (`hasF16Form`), else f32 copies
 * (exact) with `sizes` saying f32. `release()` disposes the copies.
 */
export function kernelInputs(
  sizes: AttentionSizes,
  inputs: Tensor[],
): { sizes: AttentionSizes; inputs: Tensor[]; release(): void } {
  if (!sizes.f16 || hasF16Form(sizes)) return { sizes, inputs, release() {} };
  const copies = inputs.map((input) => castValues(input, "f32"));
  return {
    sizes: { ...sizes, f16: false },
    inputs: copies,
    release: () => copies.forEach((copy) => copy.dispose()),
  };
}

/**
 * Runs the fused forward kernels on `inputs` (q, k, v, or the packed qkv bound three times) laid
 * out as `layout`; returns the output `outputShape` (of the inputs' dtype) and the log-sum-exp
 * [B, H, N]. f16 inputs go to the kernels' f16 forms, or are widened first where they have none
 * (`kernelInputs`; the f32 output is then rounded to f16).
 */
function fusedForward(
  inputs: Tensor[],
  sizes: AttentionSizes,
  layout: (sizes: AttentionSizes) => AttentionLayout,
  outputShape: Shape,
  scale: number,
): { output: Tensor; logSumExp: Tensor } {
  const { batch, heads, tokens } = sizes;
  const logSumExp = Tensor.empty([batch, heads, tokens]);
  const read = kernelInputs(sizes, inputs);
  const output = Tensor.empty(outputShape, read.sizes.f16 ? "f16" : "f32");
  if (output.size > 0) {
    const [q, k, v] = read.inputs.length === 1
      ? [read.inputs[0], read.inputs[0], read.inputs[0]]
      : read.inputs;
    const sources: [GPUBuffer, GPUBuffer, GPUBuffer] = [q.buffer, k.buffer, v.buffer];
    dispatchForward(sources, output, logSumExp, read.sizes, layout(sizes), scale);
  }
  read.release();
  if (sizes.f16 && !read.sizes.f16) {
    const rounded = castValues(output, "f16");
    output.dispose();
    return { output: rounded, logSumExp };
  }
  return { output, logSumExp };
}

/**
 * Runs the fused forward kernel; returns the output [B, H, N, D] (the dtype of q, k, v: f32 or
 * f16) and log-sum-exp [B, H, N].
 */
export function attentionForward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  scale: number,
): { output: Tensor; logSumExp: Tensor } {
  const sizes = attentionSizes("attention", q, k, v);
  if (q.size > 0) checkHeadSize("attention", sizes, `q ${formatShape(q.shape)}`);
  return fusedForward([q, k, v], sizes, separateLayout, q.shape, scale);
}

/**
 * Fused multi-head attention: `softmax(q k^T * scale) v` over the key axis, for q, k, v of shape
 * [B, H, N, D] (D up to 128), all f32 or all f16 (read as f16, summed in f32). Output
 * [B, H, N, D] of their dtype. Recorded as "attention"; the backward recomputes the probabilities
 * from q, k and the saved per-row log-sum-exp, and gives f32 gradients.
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

/** Options of `selfAttention`. */
export interface SelfAttentionOptions {
  /** Multiplies the scores q k^T before the softmax; default 1 / sqrt(head size). */
  scale?: number;
}

/**
 * Checks `qkv` is an f32 or f16 [B, N, 3 D] with D a multiple of `heads`; returns the sizes (head
 * size D / heads).
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
  if (qkv.dtype !== "f32" && qkv.dtype !== "f16") {
    throw new ShapeError(`${op}: qkv must be f32 or f16, got ${qkv.describe()}`);
  }
  const [batch, tokens, width] = qkv.shape;
  if (width % (3 * heads) !== 0) {
    throw new ShapeError(
      `${op}: last axis of qkv ${formatShape(qkv.shape)} must be 3 x heads x headSize, got ` +
        `${width} for ${heads} heads (not a multiple of ${3 * heads})`,
    );
  }
  return { batch, heads, tokens, headSize: width / (3 * heads), f16: qkv.dtype === "f16" };
}

/**
 * Fused multi-head self-attention on the packed output of a qkv projection: `qkv` [B, N, 3 D] in
 * PyTorch's layout (viewed as [B, N, 3, heads, D / heads]: q, k and v of head h at
 * `qkv[..., 0 | 1 | 2, h, :]`). Returns `softmax(q k^T * scale) v` with the heads merged,
 * [B, N, D] (what `out.transpose(1, 2).reshape(B, N, D)` gives in DINO's Attention), of qkv's
 * dtype (f32 or f16). Head size up to 128. Recorded as "selfAttention"; the backward writes dq, dk and dv into one [B, N, 3 D].
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
  const outputShape = [batch, tokens, heads * headSize];
  const { output, logSumExp } = fusedForward([qkv], sizes, packedLayout, outputShape, scale);
  record("selfAttention", [qkv], output, { heads, scale }, [qkv, output, logSumExp]);
  logSumExp.dispose(); // the tape holds its own handle when recorded
  return output;
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
  const [query, key] = [q, k].map(widenedToF32);
  dispatchProbabilities(
    query.buffer,
    key.buffer,
    probabilities,
    sizes,
    separateLayout(sizes),
    value,
  );
  for (const [input, read] of [[q, query], [k, key]]) if (read !== input) read.dispose();
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
  const read = widenedToF32(qkv);
  dispatchProbabilities(read.buffer, read.buffer, probabilities, sizes, packedLayout(sizes), value);
  if (read !== qkv) read.dispose();
  return probabilities;
}
/**
 * Plain unfused attention `softmax(q k^T * scale) v` that materialises the [B, H, N, N]
 * probabilities (reference for tests of the fused `attention`; f16 inputs widened, f32 output).
 * Not recorded for autograd.
 */
export function attentionReference(q: Tensor, k: Tensor, v: Tensor, scale?: number): Tensor {
  const { tokens, headSize } = attentionSizes("attentionReference", q, k, v);
  const probabilities = attentionProbabilities(q, k, scale);
  const output = Tensor.empty(q.shape);
  const count = output.size;
  const values = widenedToF32(v);
  if (count > 0 && tokens > 0) {
    gpu().dispatch({
      kernel: "attention/reference_mix",
      buffers: [probabilities.buffer, values.buffer, output.buffer],
      params: new Uint32Array([count, tokens, headSize]),
      workgroups: flatWorkgroups(count),
    });
  }
  if (values !== v) values.dispose();
  probabilities.dispose();
  return output;
}
