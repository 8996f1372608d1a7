/**
 * DINO's self-distillation loss (Caron et al. 2021, `DINOLoss` in main_dino.py): the teacher's
 * centred, sharpened softmax on each global view is the target of the student's softmax on every
 * other view (or, with `centering: "sinkhorn"`, DINOv2's Sinkhorn-Knopp normalisation of the
 * teacher outputs in place of the centre); cross-entropies averaged over the (teacher view q, student view v != q) pairs. The
 * centre is an EMA of the teacher's batch-mean output, updated after the loss is computed.
 * @module
 */
import { ShapeError } from "../gpu/errors.ts";
import { emaUpdate } from "../optim/ema.ts";
import { add, mul, scale, sub } from "../ops/elementwise/forward.ts";
import { mean, meanAll, sumAll } from "../ops/reduction/forward.ts";
import { slice } from "../ops/shape/forward.ts";
import { crossEntropy, logSoftmax, softmax } from "../ops/softmax/forward.ts";
import { noGrad } from "../tensor/tape.ts";
import { rowEntropy, sinkhornKnopp } from "./sinkhorn.ts";
import { formatShape, type Tensor, zeros } from "../tensor/tensor.ts";

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
export class DinoLoss {
  /** The centre [1, outDim], subtracted from teacher outputs before sharpening. */
  readonly center: Tensor;

  /** Creates the loss for `outDim` prototypes (centre starts at 0). */
  constructor(
    readonly outDim: number,
    readonly studentTemperature = 0.1,
    readonly centerMomentum = 0.9,
    readonly centering: "centering" | "sinkhorn" = "centering",
  ) {
    this.center = zeros([1, outDim]);
  }

  /**
   * The loss for `studentLogits` [views * B, K] (global views first) against `teacherLogits`
   * [2 * B, K] (the two global views) at `teacherTemperature`; also updates the centre.
   */
  forward(
    studentLogits: Tensor,
    teacherLogits: Tensor,
    teacherTemperature: number,
  ): DinoLossOutput {
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
    const views = studentLogits.shape[0] / batch;
    const teacher = noGrad(() => {
      if (this.centering === "sinkhorn") {
        // DINOv2: Sinkhorn-Knopp over both global views together, in place of centering
        const probabilities = sinkhornKnopp(teacherLogits, teacherTemperature, 3);
        const perSample = rowEntropy(probabilities);
        const entropy = meanAll(perSample);
        perSample.dispose();
        return { probabilities, entropy };
      }
      const centred = sub(teacherLogits, this.center);
      const probabilities = softmax(centred, teacherTemperature);
      const logProbabilities = logSoftmax(centred, teacherTemperature);
      const perSample = crossEntropy(probabilities, logProbabilities);
      const entropy = meanAll(perSample);
      perSample.dispose();
      centred.dispose();
      logProbabilities.dispose();
      return { probabilities, entropy };
    });
    const studentLog = logSoftmax(studentLogits, this.studentTemperature);
    const studentViews = Array.from(
      { length: views },
      (_, v) => slice(studentLog, 0, v * batch, (v + 1) * batch),
    );
    const teacherViews = noGrad(() =>
      [0, 1].map((q) => slice(teacher.probabilities, 0, q * batch, (q + 1) * batch))
    );
    let total: Tensor | undefined;
    let terms = 0;
    for (let q = 0; q < 2; q++) {
      for (let v = 0; v < views; v++) {
        if (v === q) continue;
        const perSample = crossEntropy(teacherViews[q], studentViews[v]);
        const term = meanAll(perSample);
        perSample.dispose();
        if (total) {
          const next = add(total, term);
          total.dispose();
          term.dispose();
          total = next;
        } else total = term;
        terms++;
      }
    }
    const loss = scale(total!, 1 / terms);
    total!.dispose();
    for (const t of [studentLog, ...studentViews, ...teacherViews, teacher.probabilities]) {
      t.dispose();
    }
    const klDivergence = noGrad(() => sub(loss, teacher.entropy));
    this.updateCenter(teacherLogits);
    return { loss, teacherEntropy: teacher.entropy, klDivergence };
  }

  /** centre = m * centre + (1 - m) * batch mean of the teacher logits. */
  updateCenter(teacherLogits: Tensor): void {
    noGrad(() => {
      const batchMean = mean(teacherLogits, 0, true);
      emaUpdate([this.center], [batchMean], this.centerMomentum);
      batchMean.dispose();
    });
  }

  /** L2 norm of the centre, a one-element tensor (a monitor). */
  centerNorm(): Tensor {
    return noGrad(() => {
      const squared = mul(this.center, this.center);
      const total = sumAll(squared);
      squared.dispose();
      return total; // squared norm; the logger takes the square root on the host
    });
  }

  /** Releases the centre. */
  dispose(): void {
    this.center.dispose();
  }
}
