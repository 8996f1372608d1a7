/**
 * Gradient rules of the attention ops (src/ops/attention/forward.ts).
 * @module
 */
import { attentionBackward, type AttentionOps, selfAttentionBackward } from "./forward.ts";
import type { GradTable } from "../../tensor/grad_rule.ts";

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
