/**
 * Gradient rules of the normalization ops (src/ops/normalization/forward.ts).
 * @module
 */
import { layerNormBackward, type NormalizationOps } from "./forward.ts";
import { widenedToF32 } from "../cast/forward.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import type { GradTable } from "../../tensor/grad_rule.ts";

/** Gradient rules of the normalization ops. */
export const normalizationGrads: GradTable<keyof NormalizationOps> = {
  layerNorm: (gradOut, node) => {
    const [saved, rowMean, rowRstd, weight] = node.saved;
    const { hasWeight, hasBias } = node.attributes;
    const wantAffine = node.inputs.slice(1).some((input) => input.requiresGrad);
    // x saved as f16 (savedInput "f16") is widened for the kernel, one layer at a time
    const x = widenedToF32(saved);
    const { gradX, gradWeight, gradBias } = layerNormBackward(
      x,
      rowMean,
      rowRstd,
      hasWeight ? weight : undefined,
      gradOut,
      wantAffine,
    );
    if (x !== saved) x.dispose();
    const grads: (Tensor | undefined)[] = [gradX];
    if (hasWeight) grads.push(gradWeight);
    else gradWeight?.dispose();
    if (hasBias) grads.push(gradBias);
    else gradBias?.dispose();
    return grads;
  },
};
