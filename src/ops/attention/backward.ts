/**
 * The backward of the attention ops (src/ops/attention/forward.ts): the launchers of the fused
 * backward kernels, which recompute the probabilities from q, k and the saved log-sum-exp, and
 * the gradient rules that call them.
 * @module
 */
import type { GradTable } from "../../tensor/grad_rule.ts";
import { ShapeError } from "../../gpu/errors.ts";
import { formatShape, Tensor } from "../../tensor/tensor.ts";
import { widenedToF32 } from "../cast/forward.ts";
import { type AttentionOps, kernelInputs, selfAttentionSizes } from "./forward.ts";
import {
  attentionSizes,
  checkHeadSize,
  dispatchBackward,
  packedLayout,
  separateLayout,
} from "./kernels.ts";

/** Gradients of `attention` given the saved values; returns [dq, dk, dv] (f32, as f16 inputs' are). */
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
  const read = kernelInputs(sizes, [q, k, v, output]);
  const [query, key, value, saved] = read.inputs;
  const grad = widenedToF32(gradOutput);
  dispatchBackward(
    grad,
    saved,
    logSumExp,
    [query.buffer, key.buffer, value.buffer],
    gradQuery.buffer,
    gradKey.buffer,
    gradValue.buffer,
    read.sizes,
    separateLayout(sizes),
    scale,
  );
  read.release();
  if (grad !== gradOutput) grad.dispose();
  return [gradQuery, gradKey, gradValue];
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
  const read = kernelInputs(sizes, [qkv, output]);
  const [packed, saved] = read.inputs;
  const grad = widenedToF32(gradOutput);
  dispatchBackward(
    grad,
    saved,
    logSumExp,
    [packed.buffer, packed.buffer, packed.buffer],
    gradQkv.buffer,
    gradQkv.buffer,
    undefined,
    read.sizes,
    packedLayout(sizes),
    scale,
  );
  read.release();
  if (grad !== gradOutput) grad.dispose();
  return gradQkv;
}

/** Gradient rules of the attention ops. */
export const attentionGrads: GradTable<keyof AttentionOps> = {
  /** dq, dk, dv from kernels that recompute the probabilities from q, k and the log-sum-exp. */
  attention(gradOutput, node) {
    const [q, k, v, output, logSumExp] = node.saved;
    return attentionBackward(gradOutput, q, k, v, output, logSumExp, node.attributes.scale);
  },
  /** The same kernels reading q, k, v from the packed qkv and writing one [B, N, 3 D] gradient. */
  selfAttention(gradOutput, node) {
    const [qkv, output, logSumExp] = node.saved;
    const { heads, scale } = node.attributes;
    return [selfAttentionBackward(gradOutput, qkv, output, logSumExp, heads, scale)];
  },
};
