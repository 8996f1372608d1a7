/**
 * Gradient rule of the cast op (src/ops/cast/forward.ts): a cast is the identity on the values it
 * can hold, so the input's gradient is the output gradient. Gradients are f32 whatever the
 * tensor's dtype (as every f16 op's rule gives them; the tape sums only f32): an f32 gradient
 * passes through as it is (no copy), an f16 one is widened.
 * @module
 */
import { type CastOps, castValues } from "./forward.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import type { GradTable } from "../../tensor/grad_rule.ts";

/** Gradient rules of the cast op. */
export const castGrads: GradTable<keyof CastOps> = {
  cast: (
    gradOut: Tensor,
  ) => [gradOut.dtype === "f32" ? gradOut.share() : castValues(gradOut, "f32")],
};
