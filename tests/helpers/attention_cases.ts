/**
 * The attention tests' cases: `attention` on [B, H, N, D] and `selfAttention` on packed qkv against
 * the float64 references, forward and (unless `grad` is false) gradients, named with the fused
 * kernel variant in force.
 * @module
 */
import { attention, selfAttention } from "../../src/ops/attention/forward.ts";
import { attentionKernels, type AttentionKernelVariant } from "../../src/ops/attention/choice.ts";
import { float64Attention, float64SelfAttention } from "../../src/ops/attention/reference.ts";
import type { Shape } from "../../src/tensor/tensor.ts";
import { checkOp } from "./op_check.ts";

/** A case's scale (default 1/sqrt(D)), whether gradients are checked, and its seed. */
export interface AttentionCaseOptions {
  scale?: number;
  grad?: boolean;
  seed?: number;
}

function scaleName(options: AttentionCaseOptions): string {
  return options.scale ? ` scale ${options.scale}` : "";
}

/** Checks `attention` on q, k, v of [B, H, N, D] `shape` against float64. */
export function attentionCase(shape: Shape, options: AttentionCaseOptions): Promise<void> {
  return checkOp({
    name: `attention ${attentionKernels.variant} ${JSON.stringify(shape)}${scaleName(options)}`,
    inputs: [{ shape }, { shape }, { shape }],
    gpu: (q, k, v) => attention(q, k, v, { scale: options.scale }),
    reference: (q, k, v) => float64Attention(q, k, v, shape, options.scale),
    outputShape: shape,
    noGrad: options.grad === false,
    seed: options.seed,
  });
}

/**
 * Checks `selfAttention` of B, N, H, d (qkv [B, N, 3 H d]), gradients on `gradSamples` values
 * (60 by default).
 */
export function selfAttentionCase(
  [batch, tokens, heads, d]: number[],
  options: AttentionCaseOptions & { gradSamples?: number },
): Promise<void> {
  const shape = [batch, tokens, 3 * heads * d];
  return checkOp({
    name: `selfAttention ${attentionKernels.variant} B ${batch} N ${tokens} H ${heads} d ${d}` +
      scaleName(options),
    inputs: [{ shape }],
    gpu: (qkv) => selfAttention(qkv, heads, { scale: options.scale }),
    reference: (qkv) => float64SelfAttention(qkv, shape, heads, options.scale),
    outputShape: [batch, tokens, heads * d],
    noGrad: options.grad === false,
    gradSamples: options.gradSamples ?? 60,
    seed: options.seed,
  });
}

/** Runs `body` with the fused kernels set to `variant` and key tile `scoreTile`, then restores. */
export async function withKernels(
  variant: AttentionKernelVariant,
  scoreTile: number,
  body: () => Promise<void>,
): Promise<void> {
  const saved = { ...attentionKernels };
  attentionKernels.variant = variant;
  attentionKernels.scoreTile = scoreTile;
  try {
    await body();
  } finally {
    Object.assign(attentionKernels, saved);
  }
}

/** Runs `body` with the fused kernels set to `variant` (the key tile as it is), then restores. */
export function withVariant(
  variant: AttentionKernelVariant,
  body: () => Promise<void>,
): Promise<void> {
  return withKernels(variant, attentionKernels.scoreTile, body);
}
