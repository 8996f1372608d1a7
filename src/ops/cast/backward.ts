/**
 * Gradient rule of the cast op (src/ops/cast/forward.ts): a cast is the identity on the values it
 * can hold, so the input's gradient is the output gradient cast back to the input's dtype.
 * @module
 */
import { type CastOps, castValues } from "./forward.ts";
import type { GradTable } from "../../tensor/grad_rule.ts";

/** Gradient rules of the cast op. */
export const castGrads: GradTable<keyof CastOps> = {
  cast: (gradOut, node) => [castValues(gradOut, node.attributes.from)],
};
