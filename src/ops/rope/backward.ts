/**
 * Gradient rule of the RoPE op (src/ops/rope/forward.ts). A rotation's transpose is the rotation
 * by the opposite angle (sin -> -sin), so the gradient with respect to qkv is the same kernel run
 * on the output gradient with the sines negated; the table, a constant, gets none.
 * @module
 */
import { type RopeOps, ropeQkvBackward } from "./forward.ts";
import type { GradTable } from "../../tensor/grad_rule.ts";

/** Gradient rules of the RoPE op. */
export const ropeGrads: GradTable<keyof RopeOps> = {
  ropeQkv: (gradOut, node) => [ropeQkvBackward(gradOut, node.saved[0], node.attributes.heads)],
};
