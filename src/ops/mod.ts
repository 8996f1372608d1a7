/**
 * The ops: f32 <-> f16 casts, elementwise, reductions, LayerNorm, (log-)softmax and cross-entropy, matmul with its
 * fused epilogue, fused attention, shape ops, row gathers, image ops and KoLeo. Each records itself
 * on the tape when an input requires grad, so `backward` (src/tensor) differentiates through it.
 * The op families live in folders of their own (src/ops/<family>/: forward, backward with the
 * gradient rule, float64 reference); launchers, kernel variants and per-kernel switches stay
 * internal.
 *
 * @example
 * ```ts
 * import { backward, initGpu, linear, meanAll, tensor } from "@dinogpu/dinogpu";
 * await initGpu();
 * const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
 * const w = tensor([0.5, -1, 2], [1, 3]);
 * w.requiresGrad = true;
 * backward(meanAll(linear(x, w)));
 * console.log(await w.grad!.read()); // [2.5, 3.5, 4.5]
 * ```
 * @module
 */
export type { OpAttributes, OpName } from "./op_types.ts";
export {
  add,
  addScalar,
  broadcastTo,
  div,
  type ElementwiseOps,
  gelu,
  mul,
  scale,
  silu,
  sub,
} from "./elementwise/forward.ts";
export {
  max,
  mean,
  meanAll,
  type ReductionOps,
  sum,
  sumAll,
  sumToShape,
} from "./reduction/forward.ts";
export { l2Normalize } from "./reduction/forward.ts";
export {
  layerNorm,
  type LayerNormOptions,
  type NormalizationOps,
} from "./normalization/forward.ts";
export {
  crossEntropy,
  crossEntropyWithLabels,
  logSoftmax,
  softmax,
  type SoftmaxOps,
} from "./softmax/forward.ts";
export {
  linear,
  matmul,
  type MatmulActivation,
  type MatmulOps,
  type MatmulOptions,
} from "./matmul/forward.ts";
export { MATMUL_VARIANTS, type MatmulProblem, type MatmulVariant } from "./matmul/variants.ts";
export { chooseMatmulVariant, clearMatmulTuning, collectMatmulProblems } from "./matmul/choice.ts";
export {
  timeMatmulVariant,
  tuneMatmul,
  tuneMatmulProblems,
  type TuneOptions,
  type TuneResult,
  type VariantTiming,
} from "./matmul/tuning.ts";
export {
  attention,
  attentionForward,
  type AttentionOps,
  type AttentionOptions,
  attentionProbabilities,
  attentionReference,
  selfAttention,
  type SelfAttentionOptions,
  selfAttentionProbabilities,
} from "./attention/forward.ts";
export { MAX_HEAD_SIZE } from "./attention/kernels.ts";
export {
  concat,
  permute,
  reshape,
  type ShapeOps,
  slice,
  split,
  transpose,
} from "./shape/forward.ts";
export { gatherRows, scatterRows } from "./shape/rows.ts";
export {
  type ImageOps,
  patchify,
  resizeBicubic,
  type ResizeOptions,
  type ResizePlan,
} from "./image/forward.ts";
export { type KoleoOps, koleoTerms } from "./koleo/forward.ts";
export { type RopeOps, ropeQkv } from "./rope/forward.ts";
export { cast, type CastOps, type FloatDType } from "./cast/forward.ts";
