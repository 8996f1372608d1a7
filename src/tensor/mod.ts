/**
 * Tensors, the autograd tape and its driver (`backward`), random initialisers.
 * @module
 */
export * from "./tensor.ts";
export { clearTape, isGradEnabled, noGrad, record, type TapeNode, tapeNodes } from "./tape.ts";
export { backward, zeroGrad } from "./backward.ts";
export type { GradRule, GradTable } from "./grad_rule.ts";
export { Random, truncatedNormal, truncatedNormalValues, uniform } from "./random.ts";
