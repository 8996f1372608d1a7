/**
 * Gradient rules of the reduction ops (src/ops/reduction/forward.ts).
 * @module
 */
import { broadcastTo } from "../elementwise/forward.ts";
import { l2NormalizeBackward, maxBackward, type ReductionOps } from "./forward.ts";
import type { TapeNode } from "../../tensor/tape.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import type { GradTable } from "../../tensor/grad_rule.ts";

/** `gradOut` of a reduction over `axis`, stretched back over the input's shape times `factor`. */
function expandOverAxis(
  gradOut: Tensor,
  node: TapeNode<"sum" | "mean">,
  factor: number,
): Tensor {
  const input = node.inputs[0];
  const keptShape = input.shape.map((extent, axis) => (axis === node.attributes.axis ? 1 : extent));
  const kept = gradOut.view(keptShape);
  const result = broadcastTo(kept, input.shape, factor);
  kept.dispose();
  return result;
}

/** `gradOut` of a full reduction (shape []) stretched over the input's shape times `factor`. */
function expandAll(gradOut: Tensor, shape: readonly number[], factor: number): Tensor {
  const single = gradOut.view(shape.map(() => 1));
  const result = broadcastTo(single, shape, factor);
  single.dispose();
  return result;
}

/** Gradient rules of the reduction ops. */
export const reductionGrads: GradTable<keyof ReductionOps> = {
  sum: (gradOut, node) => [expandOverAxis(gradOut, node, 1)],
  mean: (gradOut, node) => [
    expandOverAxis(gradOut, node, 1 / node.inputs[0].shape[node.attributes.axis]),
  ],
  max: (gradOut, node) => [
    maxBackward(node.saved[0], gradOut, node.inputs[0].shape, node.attributes.axis),
  ],
  sumAll: (gradOut, node) => [expandAll(gradOut, node.inputs[0].shape, 1)],
  meanAll: (gradOut, node) => [
    expandAll(gradOut, node.inputs[0].shape, 1 / node.inputs[0].size),
  ],
  l2Normalize: (gradOut, node) => [
    l2NormalizeBackward(node.saved[0], gradOut, node.attributes.eps),
  ],
};
