/**
 * Gradient rules of the image ops (src/tensor/ops/image.ts).
 * @module
 */
import { type ImageOps, resizeAdjoint } from "../ops/image.ts";
import { permute } from "../ops/shape.ts";
import type { GradTable } from "./rule.ts";

/** Gradient rules of the image ops. */
export const imageGrads: GradTable<keyof ImageOps> = {
  patchify: (gradOutput, node) => {
    const { inputShape, patch } = node.attributes;
    const [batch, channels, height, width] = inputShape;
    const rows = height / patch;
    const columns = width / patch;
    const split = gradOutput.view([batch, rows, columns, channels, patch, patch]);
    const moved = permute(split, [0, 3, 1, 4, 2, 5]);
    split.dispose();
    const gradInput = moved.view(inputShape);
    moved.dispose();
    return [gradInput];
  },

  resizeBicubic: (gradOutput, node) => [resizeAdjoint(gradOutput, node.attributes)],
};
