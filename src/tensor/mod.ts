/**
 * Tensors, ops and autograd.
 * @module
 */
export * from "./tensor.ts";
export { clearTape, isGradEnabled, noGrad, record, type TapeNode, tapeNodes } from "./tape.ts";
export { backward, zeroGrad } from "./backward.ts";
export type { OpAttributes, OpName } from "./op_types.ts";
export type { GradRule, GradTable } from "./grad/rule.ts";
export { Random, truncatedNormal, truncatedNormalValues, uniform } from "./random.ts";
export * from "./ops/elementwise.ts";
export * from "./ops/reduction.ts";
export * from "./ops/normalization.ts";
export * from "./ops/softmax.ts";
export * from "./ops/matmul.ts";
export * from "./ops/matmul_variants.ts";
export * from "./ops/attention.ts";
export * from "./ops/shape.ts";
export * from "./ops/image.ts";
export * from "./ops/koleo.ts";
