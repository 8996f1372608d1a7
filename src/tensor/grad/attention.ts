/**
 * Gradient rules of the attention ops (src/tensor/ops/attention.ts).
 * @module
 */
import type { AttentionOps } from "../ops/attention.ts";
import type { GradTable } from "./rule.ts";

/** Gradient rules of the attention ops. */
export const attentionGrads: GradTable<keyof AttentionOps> = {};
