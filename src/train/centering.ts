/**
 * What DINO's and iBOT's losses share: the teacher's target distribution, either the teacher
 * logits minus a centre, sharpened by a softmax at the teacher temperature (DINO), or DINOv2's
 * Sinkhorn-Knopp normalisation in place of the centre; and the centre itself, an EMA of the
 * teacher's batch-mean output. Plus `sumOf`, the loss terms added up in order.
 * @module
 */
import { emaUpdate } from "../optim/ema.ts";
import { add, mul, sub } from "../ops/elementwise/forward.ts";
import { mean, meanAll } from "../ops/reduction/forward.ts";
import { crossEntropy, logSoftmax, softmax } from "../ops/softmax/forward.ts";
import { noGrad } from "../tensor/tape.ts";
import { type Tensor, tidy, zeros } from "../tensor/tensor.ts";
import { rowEntropy, sinkhornKnopp } from "./sinkhorn.ts";

/** How the teacher's targets are normalised: a centre (DINO), or Sinkhorn-Knopp (DINOv2). */
export type Centering = "centering" | "sinkhorn";

/**
 * A teacher temperature: a number (a uniform parameter of the kernels, fixed for a recorded step),
 * or a fixed `reference` temperature with a one-element `scale` tensor the logits are multiplied
 * by first, `reference / temperature` of the step (DINOv2's per-step temperature: an uploaded
 * step input, so a replayed step reads the new value).
 */
export type TeacherTemperature = number | { reference: number; scale: Tensor };

/** The teacher's target probabilities and, when asked for, their mean entropy. */
export interface TeacherTarget {
  /** Target probabilities, one distribution per row. */
  probabilities: Tensor;
  /** Mean entropy of the rows (a monitor), when asked for. */
  entropy?: Tensor;
}

/** A loss against centred (or Sinkhorn-Knopp) teacher targets, with its centre. */
export class CenteredLoss {
  /** The centre [1, outDim], subtracted from teacher outputs before sharpening. */
  readonly center: Tensor;

  /** Creates the loss for `outDim` prototypes (the centre starts at 0). */
  constructor(
    readonly outDim: number,
    readonly studentTemperature = 0.1,
    readonly centerMomentum = 0.9,
    readonly centering: Centering = "centering",
  ) {
    this.center = zeros([1, outDim]);
  }

  /**
   * The targets of `teacherLogits` [rows, outDim] at `temperature` (no gradient), with their mean
   * entropy when `entropy` is set.
   */
  teacherTarget(
    teacherLogits: Tensor,
    teacherTemperature: TeacherTemperature,
    entropy = false,
  ): TeacherTarget {
    const temperature = typeof teacherTemperature === "number"
      ? teacherTemperature
      : teacherTemperature.reference;
    const sharpen = (logits: Tensor) =>
      typeof teacherTemperature === "number" ? logits : mul(logits, teacherTemperature.scale);
    return noGrad(() =>
      tidy(() => {
        if (this.centering === "sinkhorn") {
          const probabilities = sinkhornKnopp(sharpen(teacherLogits), temperature, 3);
          return entropy ? { probabilities, entropy: meanAll(rowEntropy(probabilities)) } : {
            probabilities,
          };
        }
        const centred = sharpen(sub(teacherLogits, this.center));
        const probabilities = softmax(centred, temperature);
        if (!entropy) return { probabilities };
        const perSample = crossEntropy(probabilities, logSoftmax(centred, temperature));
        return { probabilities, entropy: meanAll(perSample) };
      })
    );
  }

  /**
   * centre = m * centre + (1 - m) * batch mean of `teacherLogits`; unchanged when `skipIf` (a
   * step guard's flag) is raised on the GPU.
   */
  updateCenter(teacherLogits: Tensor, skipIf?: Tensor): void {
    noGrad(() =>
      tidy(() =>
        emaUpdate([this.center], [mean(teacherLogits, 0, true)], this.centerMomentum, { skipIf })
      )
    );
  }

  /** Releases the centre. */
  dispose(): void {
    this.center.dispose();
  }
}

/** `terms[0] + terms[1] + ...`, added in that order (one tensor; the terms stay the caller's). */
export function sumOf(terms: readonly Tensor[]): Tensor {
  return tidy(() => terms.slice(1).reduce((total, term) => add(total, term), terms[0]));
}
