/**
 * DINOv3's Gram anchoring loss (dinov3/loss/gram_loss.py, with the DINOv3 7B gram-anchor config:
 * normalised, per image, negatives kept): the patch features of each global view are
 * L2-normalised, their Gram matrix (every patch's cosine similarity to every other) is taken for
 * the student and for a frozen Gram teacher on the same view, and the loss is the mean squared
 * difference of the two matrices. It anchors the student's patch-to-patch similarity structure to
 * an earlier snapshot of the teacher, which keeps dense features clean over long training.
 * @module
 */
import { mul, sub } from "../ops/elementwise/forward.ts";
import { matmul } from "../ops/matmul/forward.ts";
import { l2Normalize, meanAll } from "../ops/reduction/forward.ts";
import { ShapeError } from "../gpu/errors.ts";
import { type Tensor, tidy } from "../tensor/tensor.ts";

/** The Gram matrices [V, P, P] of L2-normalised patch features [V, P, D] (one per view). */
export function patchGram(patches: Tensor): Tensor {
  return tidy(() => {
    const normed = l2Normalize(patches);
    return matmul(normed, normed, { transposeB: true });
  });
}

/**
 * The Gram anchoring loss of the student's patch features `student` [V, P, D] against the Gram
 * teacher's `teacher` (same shape, no gradient): mean over V x P x P of the squared difference of
 * their Gram matrices. A one-element tensor on the tape.
 */
export function gramLoss(student: Tensor, teacher: Tensor): Tensor {
  const same = student.shape.length === 3 &&
    student.shape.every((size, axis) => size === teacher.shape[axis]) &&
    teacher.shape.length === 3;
  if (!same) {
    throw new ShapeError(
      `gramLoss: student and teacher patches must both be [views, patches, dim], got ` +
        `[${student.shape.join(", ")}] and [${teacher.shape.join(", ")}]`,
    );
  }
  return tidy(() => {
    const difference = sub(patchGram(student), patchGram(teacher));
    return meanAll(mul(difference, difference));
  });
}
