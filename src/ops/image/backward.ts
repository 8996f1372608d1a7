/**
 * Gradient rules of the image ops (src/ops/image/forward.ts).
 * @module
 */
import { type ImageOps, resizeAdjoint } from "./forward.ts";
import { permute } from "../shape/forward.ts";
import type { GradTable } from "../../tensor/grad_rule.ts";

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
