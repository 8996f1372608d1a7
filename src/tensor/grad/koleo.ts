/**
 * Gradient rule of the KoLeo op (src/tensor/ops/koleo.ts).
 * @module
 */
import { koleoBackward, type KoleoOps } from "../ops/koleo.ts";
import type { GradTable } from "./rule.ts";

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
