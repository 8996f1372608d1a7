/**
 * Gradient rules of the matmul ops (src/tensor/ops/matmul.ts).
 * @module
 */
import type { MatmulOps } from "../ops/matmul.ts";
import type { GradTable } from "./rule.ts";

/** Gradient rules of the matmul ops. */
export const matmulGrads: GradTable<keyof MatmulOps> = {};
