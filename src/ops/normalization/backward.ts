/**
 * Gradient rules of the normalization ops (src/ops/normalization/forward.ts).
 * @module
 */
import { layerNormBackward, type NormalizationOps } from "./forward.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import type { GradTable } from "../../tensor/grad_rule.ts";

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
