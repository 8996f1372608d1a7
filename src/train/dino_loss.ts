/**
 * DINO's self-distillation loss (Caron et al. 2021, `DINOLoss` in main_dino.py): the teacher's
 * centred, sharpened softmax on each global view is the target of the student's softmax on every
 * other view (or, with `centering: "sinkhorn"`, DINOv2's Sinkhorn-Knopp normalisation of the
 * teacher outputs in place of the centre); cross-entropies averaged over the (teacher view q,
 * student view v != q) pairs. The centre is an EMA of the teacher's batch-mean output, updated
 * after the loss is computed.
 * @module
 */
import { ShapeError } from "../gpu/errors.ts";
import { mul, scale, sub } from "../ops/elementwise/forward.ts";
import { meanAll, sumAll } from "../ops/reduction/forward.ts";
import { slice } from "../ops/shape/forward.ts";
import { crossEntropy, logSoftmax } from "../ops/softmax/forward.ts";
import { noGrad } from "../tensor/tape.ts";
import { formatShape, type Tensor, tidy } from "../tensor/tensor.ts";
import { CenteredLoss, sumOf, type TeacherTemperature } from "./centering.ts";

/** What one loss evaluation returns: the loss (on the tape) and monitors (one-element tensors). */
export interface DinoLossOutput {
  /** The loss, a one-element tensor to backpropagate. */
  loss: Tensor;
  /** Mean entropy of the teacher's per-sample distributions (near 0 or log K means collapse). */
  teacherEntropy: Tensor;
  /** Mean KL(teacher || student) over the pairs: loss - teacherEntropy. */
  klDivergence: Tensor;
}

/** The DINO loss with its centre. */
export class DinoLoss extends CenteredLoss {
  /**
   * The loss for `studentLogits` [views * B, K] (global views first) against `teacherLogits`
   * [2 * B, K] (the two global views) at `teacherTemperature`; then updates the centre.
   */
  forward(
    studentLogits: Tensor,
    teacherLogits: Tensor,
    teacherTemperature: TeacherTemperature,
  ): DinoLossOutput {
    const output = this.compute(studentLogits, teacherLogits, teacherTemperature);
    this.updateCenter(teacherLogits);
    return output;
  }

  /** The loss of `forward`, leaving the centre alone (the training step updates it last). */
  compute(
    studentLogits: Tensor,
    teacherLogits: Tensor,
    teacherTemperature: TeacherTemperature,
  ): DinoLossOutput {
    const batch = this.#checkShapes(studentLogits, teacherLogits);
    const views = studentLogits.shape[0] / batch;
    return tidy(() => {
      const teacher = this.teacherTarget(teacherLogits, teacherTemperature, true);
      const studentLog = logSoftmax(studentLogits, this.studentTemperature);
      const studentViews = Array.from(
        { length: views },
        (_, v) => slice(studentLog, 0, v * batch, (v + 1) * batch),
      );
      const teacherViews = noGrad(() =>
        [0, 1].map((q) => slice(teacher.probabilities, 0, q * batch, (q + 1) * batch))
      );
      const terms: Tensor[] = [];
      for (let q = 0; q < 2; q++) {
        for (let v = 0; v < views; v++) {
          if (v !== q) {
            terms.push(tidy(() => meanAll(crossEntropy(teacherViews[q], studentViews[v]))));
          }
        }
      }
      const loss = scale(sumOf(terms), 1 / terms.length);
      const teacherEntropy = teacher.entropy!;
      return { loss, teacherEntropy, klDivergence: noGrad(() => sub(loss, teacherEntropy)) };
    });
  }

  /** Checks the logits' shapes; returns the batch (rows per view). */
  #checkShapes(studentLogits: Tensor, teacherLogits: Tensor): number {
    const K = this.outDim;
    if (teacherLogits.rank !== 2 || teacherLogits.shape[1] !== K || teacherLogits.shape[0] % 2) {
      throw new ShapeError(
        `DinoLoss: teacher logits must be [2 * batch, ${K}], got ${
          formatShape(teacherLogits.shape)
        }`,
      );
    }
    const batch = teacherLogits.shape[0] / 2;
    if (
      studentLogits.rank !== 2 || studentLogits.shape[1] !== K ||
      studentLogits.shape[0] % batch !== 0 || studentLogits.shape[0] < 2 * batch
    ) {
      throw new ShapeError(
        `DinoLoss: student logits must be [views * ${batch}, ${K}] with views >= 2, got ${
          formatShape(studentLogits.shape)
        }`,
      );
    }
    return batch;
  }

  /** Squared L2 norm of the centre, a one-element tensor (a monitor; the logger takes the root). */
  centerNorm(): Tensor {
    return noGrad(() => tidy(() => sumAll(mul(this.center, this.center))));
  }
}
