/**
 * Gradient rules of the elementwise ops (src/tensor/ops/elementwise.ts).
 * @module
 */
import type { ElementwiseOps } from "../ops/elementwise.ts";
import type { GradTable } from "./rule.ts";

/** Gradient rules of the elementwise ops. */
export const elementwiseGrads: GradTable<keyof ElementwiseOps> = {};
