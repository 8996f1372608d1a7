/**
 * Gradient rules of the softmax ops (src/tensor/ops/softmax.ts).
 * @module
 */
import type { SoftmaxOps } from "../ops/softmax.ts";
import type { GradTable } from "./rule.ts";

/** Gradient rules of the softmax ops. */
export const softmaxGrads: GradTable<keyof SoftmaxOps> = {};
