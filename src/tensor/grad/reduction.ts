/**
 * Gradient rules of the reduction ops (src/tensor/ops/reduction.ts).
 * @module
 */
import type { ReductionOps } from "../ops/reduction.ts";
import type { GradTable } from "./rule.ts";

/** Gradient rules of the reduction ops. */
export const reductionGrads: GradTable<keyof ReductionOps> = {};
