/**
 * The backward of the softmax ops (src/ops/softmax/forward.ts): the launchers of their backward
 * kernels and the gradient rules that call them.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { flatWorkgroups } from "../../gpu/launch.ts";
import { Tensor } from "../../tensor/tensor.ts";
import { lastAxisRows, rowLaunch } from "../reduction/forward.ts";
import type { SoftmaxOps } from "./forward.ts";
import type { GradTable } from "../../tensor/grad_rule.ts";

/** Gradient rules of the softmax ops. */
export const softmaxGrads: GradTable<keyof SoftmaxOps> = {
  softmax: (gradOut, node) => [
    softmaxBackward(false, node.saved[0], gradOut, node.attributes.temperature),
  ],
  logSoftmax: (gradOut, node) => [
    softmaxBackward(true, node.saved[0], gradOut, node.attributes.temperature),
  ],
  crossEntropy: (gradOut, node) => crossEntropyBackward(node.saved[0], node.saved[1], gradOut),
  crossEntropyWithLabels: (gradOut, node) => [
    crossEntropyWithLabelsBackward(node.saved[0], node.saved[1], node.saved[2], gradOut),
    undefined,
  ],
};

/**
 * Gradient of `softmax` / `logSoftmax` with respect to `x` (used by their rules), from the forward
 * output `y`.
 */
export function softmaxBackward(
  log: boolean,
  y: Tensor,
  gradOut: Tensor,
  temperature: number,
): Tensor {
  const { rows, length } = lastAxisRows(log ? "logSoftmax" : "softmax", y);
  const gradX = Tensor.empty(y.shape);
  const words = new Uint32Array([rows, length, 0, 0]);
  new Float32Array(words.buffer, 8, 1)[0] = 1 / temperature;
  gpu().dispatch({
    kernel: "softmax/softmax_backward",
    ...rowLaunch(rows, length, "main", { LOG: log ? 1 : 0 }),
    buffers: [y.buffer, gradOut.buffer, gradX.buffer],
    params: words,
  });
  return gradX;
}

/** Gradients of `crossEntropy` with respect to target and logProbabilities (used by its rule). */
export function crossEntropyBackward(
  target: Tensor,
  logProbabilities: Tensor,
  gradOut: Tensor,
): [Tensor, Tensor] {
  const length = target.shape[target.rank - 1];
  const gradTarget = Tensor.empty(target.shape);
  const gradLog = Tensor.empty(target.shape);
  gpu().dispatch({
    kernel: "softmax/cross_entropy_backward",
    buffers: [
      gradOut.buffer,
      target.buffer,
      logProbabilities.buffer,
      gradTarget.buffer,
      gradLog.buffer,
    ],
    params: new Uint32Array([target.size, length]),
    workgroups: flatWorkgroups(target.size),
  });
  return [gradTarget, gradLog];
}

/** Gradient of `crossEntropyWithLabels` with respect to the logits (used by its rule). */
export function crossEntropyWithLabelsBackward(
  logits: Tensor,
  labels: Tensor,
  logSumExp: Tensor,
  gradOut: Tensor,
): Tensor {
  const gradLogits = Tensor.empty(logits.shape);
  gpu().dispatch({
    kernel: "softmax/cross_entropy_labels_backward",
    buffers: [gradOut.buffer, logits.buffer, labels.buffer, logSumExp.buffer, gradLogits.buffer],
    params: new Uint32Array([logits.size, logits.shape[1]]),
    workgroups: flatWorkgroups(logits.size),
  });
  return gradLogits;
}
