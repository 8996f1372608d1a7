/**
 * Gradient rules of the softmax ops (src/ops/softmax/forward.ts).
 * @module
 */
import {
  crossEntropyBackward,
  crossEntropyWithLabelsBackward,
  softmaxBackward,
  type SoftmaxOps,
} from "./forward.ts";
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
