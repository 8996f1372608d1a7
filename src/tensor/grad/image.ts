/**
 * Gradient rules of the image ops (src/tensor/ops/image.ts).
 * @module
 */
import type { ImageOps } from "../ops/image.ts";
import type { GradTable } from "./rule.ts";

/** Gradient rules of the image ops. */
export const imageGrads: GradTable<keyof ImageOps> = {};
