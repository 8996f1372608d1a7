/**
 * Tensors, ops and autograd.
 * @module
 */
export * from "./tensor.ts";
export { clearTape, isGradEnabled, noGrad, record, type TapeNode, tapeNodes } from "./tape.ts";
export { backward, zeroGrad } from "./backward.ts";
export type { OpAttributes, OpName } from "./op_types.ts";
export type { GradRule, GradTable } from "./grad/rule.ts";
