/**
 * Gradient rule of the KoLeo op (src/ops/koleo/forward.ts).
 * @module
 */
import { koleoBackward, type KoleoOps } from "./forward.ts";
import type { GradTable } from "../../tensor/grad_rule.ts";

/** Gradient rules of the KoLeo op. */
export const koleoGrads: GradTable<keyof KoleoOps> = {
  koleoTerms: (gradOut, node) => [
    koleoBackward(
      node.saved[0],
      node.saved[1],
      node.saved[2],
      gradOut,
      node.attributes.pdistEps,
      node.attributes.logEps,
    ),
  ],
};
