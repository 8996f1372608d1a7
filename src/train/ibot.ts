/**
 * iBOT's masked-patch loss as DINOv2's `iBOTPatchLoss.forward_masked`: at each masked patch of the
 * student's global crops, the cross-entropy between the teacher's target on the unmasked crop
 * (centred softmax, or Sinkhorn-Knopp over the masked patches) and the student's softmax, weighted
 * by 1 / (masked patches of its crop), summed and divided by the number of global crops (crops
 * without a mask count in the denominator, as in DINOv2). The iBOT centre is an EMA of the
 * teacher's mean masked-patch output.
 * @module
 */
import { ShapeError } from "../gpu/errors.ts";
import { emaUpdate } from "../optim/ema.ts";
import { mul, scale, sub } from "../ops/elementwise/forward.ts";
import { mean, sumAll } from "../ops/reduction/forward.ts";
import { crossEntropy, logSoftmax, softmax } from "../ops/softmax/forward.ts";
import { noGrad } from "../tensor/tape.ts";
import { formatShape, type Tensor, zeros } from "../tensor/tensor.ts";
import { sinkhornKnopp } from "./sinkhorn.ts";

/** The iBOT patch loss with its centre. */
export class IbotPatchLoss {
  /** The centre [1, outDim] (used by the "centering" variant). */
  readonly center: Tensor;

  /** Creates the loss for `outDim` patch prototypes. */
  constructor(
    readonly outDim: number,
    readonly studentTemperature = 0.1,
    readonly centerMomentum = 0.9,
    readonly centering: "centering" | "sinkhorn" = "centering",
  ) {
    this.center = zeros([1, outDim]);
  }

  /**
   * The loss for the masked patches: `studentLogits` and `teacherLogits` [M, K] (head outputs at
   * the masked rows), `weights` [M] (1 / masked patches of each row's crop), over `crops` global
   * crops; updates the centre.
   */
  forward(
    studentLogits: Tensor,
    teacherLogits: Tensor,
    weights: Tensor,
    crops: number,
    teacherTemperature: number,
  ): Tensor {
    const K = this.outDim;
    const M = teacherLogits.shape[0];
    const same = (t: Tensor) => t.rank === 2 && t.shape[0] === M && t.shape[1] === K;
    if (
      !same(teacherLogits) || !same(studentLogits) || weights.rank !== 1 || weights.shape[0] !== M
    ) {
      throw new ShapeError(
        `IbotPatchLoss: want student and teacher logits [masked, ${K}] and weights [masked], got ` +
          `${formatShape(studentLogits.shape)}, ${formatShape(teacherLogits.shape)} and ${
            formatShape(weights.shape)
          }`,
      );
    }
    const target = noGrad(() => {
      if (this.centering === "sinkhorn") return sinkhornKnopp(teacherLogits, teacherTemperature, 3);
      const centred = sub(teacherLogits, this.center);
      const probabilities = softmax(centred, teacherTemperature);
      centred.dispose();
      return probabilities;
    });
    const studentLog = logSoftmax(studentLogits, this.studentTemperature);
    const perPatch = crossEntropy(target, studentLog);
    const weighted = mul(perPatch, weights);
    const total = sumAll(weighted);
    const loss = scale(total, 1 / crops);
    for (const t of [target, studentLog, perPatch, weighted, total]) t.dispose();
    if (this.centering === "centering") {
      noGrad(() => {
        const batchMean = mean(teacherLogits, 0, true);
        emaUpdate([this.center], [batchMean], this.centerMomentum);
        batchMean.dispose();
      });
    }
    return loss;
  }

  /** Releases the centre. */
  dispose(): void {
    this.center.dispose();
  }
}
