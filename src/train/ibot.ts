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
import { mul, scale } from "../ops/elementwise/forward.ts";
import { sumAll } from "../ops/reduction/forward.ts";
import { crossEntropy, logSoftmax } from "../ops/softmax/forward.ts";
import { formatShape, type Tensor, tidy } from "../tensor/tensor.ts";
import { CenteredLoss, type TeacherTemperature } from "./centering.ts";

/** The iBOT patch loss with its centre. */
export class IbotPatchLoss extends CenteredLoss {
  /** The loss of `compute` (the same arguments), then the centre's update. */
  forward(...args: Parameters<IbotPatchLoss["compute"]>): Tensor {
    const loss = this.compute(...args);
    this.updateCenter(args[1]);
    return loss;
  }

  /**
   * The loss for the masked patches: `studentLogits` and `teacherLogits` [M, K] (head outputs at
   * the masked rows), `weights` [M] (1 / masked patches of each row's crop), over `crops` global
   * crops; the centre is left alone (the training step updates it last).
   */
  compute(
    studentLogits: Tensor,
    teacherLogits: Tensor,
    weights: Tensor,
    crops: number,
    teacherTemperature: TeacherTemperature,
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
    return tidy(() => {
      const target = this.teacherTarget(teacherLogits, teacherTemperature).probabilities;
      const perPatch = crossEntropy(target, logSoftmax(studentLogits, this.studentTemperature));
      return scale(sumAll(mul(perPatch, weights)), 1 / crops);
    });
  }

  /** The centre's EMA update (with Sinkhorn-Knopp, which needs no centre, nothing). */
  override updateCenter(teacherLogits: Tensor, skipIf?: Tensor): void {
    if (this.centering === "centering") super.updateCenter(teacherLogits, skipIf);
  }
}
