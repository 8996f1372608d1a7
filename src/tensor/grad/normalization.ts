/**
 * Gradient rules of the normalization ops (src/tensor/ops/normalization.ts).
 * @module
 */
import type { NormalizationOps } from "../ops/normalization.ts";
import type { GradTable } from "./rule.ts";

/** Gradient rules of the normalization ops. */
export const normalizationGrads: GradTable<keyof NormalizationOps> = {};
