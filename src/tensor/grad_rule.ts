/**
 * The type of a gradient rule. Rules run under `noGrad` and compute input gradients with the
 * ordinary ops; they must not dispose `gradOutput` or anything in `node.saved`.
 * @module
 */
import type { OpName } from "../ops/op_types.ts";
import type { TapeNode } from "./tape.ts";
import type { Tensor } from "./tensor.ts";

/**
 * Given the gradient of the loss with respect to the node's output, returns the gradient with
 * respect to each input (same order as `node.inputs`; `undefined` where no gradient flows).
 */
export type GradRule<K extends OpName> = (
  gradOutput: Tensor,
  node: TapeNode<K>,
) => (Tensor | undefined)[];

/** A table of gradient rules for the ops `Names`. */
export type GradTable<Names extends OpName> = { [K in Names]: GradRule<K> };
