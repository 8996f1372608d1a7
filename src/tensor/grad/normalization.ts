/**
 * Gradient rules of the normalization ops (src/tensor/ops/normalization.ts).
 * @module
 */
import { layerNormBackward, type NormalizationOps } from "../ops/normalization.ts";
import type { Tensor } from "../tensor.ts";
import type { GradTable } from "./rule.ts";

/** Gradient rules of the normalization ops. */
export const normalizationGrads: GradTable<keyof NormalizationOps> = {
  layerNorm: (gradOut, node) => {
    const [x, rowMean, rowRstd, weight] = node.saved;
    const { hasWeight, hasBias } = node.attributes;
    const wantAffine = node.inputs.slice(1).some((input) => input.requiresGrad);
    const { gradX, gradWeight, gradBias } = layerNormBackward(
      x,
      rowMean,
      rowRstd,
      hasWeight ? weight : undefined,
      gradOut,
      wantAffine,
    );
    const grads: (Tensor | undefined)[] = [gradX];
    if (hasWeight) grads.push(gradWeight);
    else gradWeight?.dispose();
    if (hasBias) grads.push(gradBias);
    else gradBias?.dispose();
    return grads;
  },
};
