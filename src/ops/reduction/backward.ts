/**
 * The backward of the reduction ops (src/ops/reduction/forward.ts): the launchers of the max and
 * l2Normalize backward kernels and the gradient rules.
 * @module
 */
import { broadcastTo } from "../elementwise/forward.ts";
import { launchL2Normalize, type ReductionOps, splitAt } from "./forward.ts";
import type { TapeNode } from "../../tensor/tape.ts";
import { gpu } from "../../gpu/device.ts";
import { flatWorkgroups } from "../../gpu/launch.ts";
import { type Shape, Tensor } from "../../tensor/tensor.ts";
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

/**
 * Gradient of `max` (used by its rule): `gradOut` placed at the saved argmax `indices` of an
 * input of shape `shape`, zero elsewhere.
 */
export function maxBackward(
  indices: Tensor,
  gradOut: Tensor,
  shape: Shape,
  axis: number,
): Tensor {
  const { outer, length, inner } = splitAt(shape, axis);
  const output = Tensor.empty(shape);
  gpu().dispatch({
    kernel: "reduction/max_backward",
    buffers: [indices.buffer, gradOut.buffer, output.buffer],
    params: new Uint32Array([outer, length, inner, 0]),
    workgroups: flatWorkgroups(output.size),
  });
  return output;
}

/** Gradient of `l2Normalize` with respect to `x` (used by its rule). */
export function l2NormalizeBackward(x: Tensor, gradOut: Tensor, eps: number): Tensor {
  return launchL2Normalize("backward", x, eps, gradOut);
}
