/**
 * The op families, each in a folder of its own: forward ops (`forward.ts`), their gradient rules
 * (`backward.ts`), the kernels they launch under kernels/<family>/. Matmul also has its kernel
 * variants, the K split and the autotuner (`matmul/variants.ts`).
 * @module
 */
export type { OpAttributes, OpName } from "./op_types.ts";
export * from "./elementwise/forward.ts";
export * from "./reduction/forward.ts";
export * from "./normalization/forward.ts";
export * from "./softmax/forward.ts";
export * from "./matmul/forward.ts";
export * from "./matmul/variants.ts";
export * from "./matmul/tuning.ts";
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
export { attentionBackward, selfAttentionBackward } from "./attention/backward.ts";
export {
  attentionKernels,
  type AttentionKernelVariant,
  attentionVariant,
  MAX_HEAD_SIZE,
  ROWS_MAX_TOKENS_TIMES_HEAD_SIZE,
} from "./attention/kernels.ts";
export * from "./shape/forward.ts";
export * from "./shape/rows.ts";
export * from "./image/forward.ts";
export * from "./koleo/forward.ts";
export * from "./rope/forward.ts";
