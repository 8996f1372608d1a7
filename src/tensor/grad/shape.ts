/**
 * Gradient rules of the shape ops (src/tensor/ops/shape.ts).
 * @module
 */
import type { ShapeOps } from "../ops/shape.ts";
import type { GradTable } from "./rule.ts";

/** Gradient rules of the shape ops. */
export const shapeGrads: GradTable<keyof ShapeOps> = {};
