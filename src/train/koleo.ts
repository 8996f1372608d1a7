/**
 * DINOv2's KoLeo regulariser on the student's CLS features: L2-normalise each row, find its
 * nearest neighbour within the batch (largest inner product), and average -log(distance + eps).
 * Spreading features apart within a batch, it is added with weight `koleoLossWeight` (DINOv2:
 * 0.1). The nearest-neighbour search and its gradient are kernels (src/ops/koleo/forward.ts).
 * @module
 */
import { koleoTerms } from "../ops/koleo/forward.ts";
import { l2Normalize, meanAll } from "../ops/reduction/forward.ts";
import { type Tensor, tidy } from "../tensor/tensor.ts";

/** The KoLeo loss of `features` [B, dim] (B >= 2), a one-element tensor on the tape. */
export function koleoLoss(features: Tensor, eps = 1e-8): Tensor {
  return tidy(() => meanAll(koleoTerms(l2Normalize(features, eps), eps, eps)));
}
