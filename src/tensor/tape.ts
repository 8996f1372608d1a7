/**
 * The autograd tape. Each op that has an input requiring grad records one node: its inputs, its
 * output, the tensors its gradient rule needs (`saved`, held alive by the tape) and its
 * attributes. `backward()` (src/tensor/backward.ts) walks the tape in reverse.
 * @module
 */
import type { OpAttributes, OpName } from "../ops/op_types.ts";
import { keep, type Tensor } from "./tensor.ts";

/** One recorded op. */
export interface TapeNode<K extends OpName = OpName> {
  /** The op, a key of the gradient rule table. */
  readonly op: K;
  /** Inputs in the op's argument order (routing only: read values through `saved`). */
  readonly inputs: readonly Tensor[];
  /** The output tensor. */
  readonly output: Tensor;
  /** Handles on the values the gradient rule needs, kept alive until the tape is cleared. */
  readonly saved: readonly Tensor[];
  /** The op's attributes. */
  readonly attributes: OpAttributes[K];
}

const nodes: TapeNode[] = [];
let gradDisabled = 0;

/** Whether ops record onto the tape right now. */
export function isGradEnabled(): boolean {
  return gradDisabled === 0;
}

/** Runs `body` without recording gradients (evaluation, optimizer steps, gradient rules). */
export function noGrad<T>(body: () => T): T {
  gradDisabled++;
  try {
    return body();
  } finally {
    gradDisabled--;
  }
}

/** Whether an op on `inputs` must be recorded. */
export function needsGrad(inputs: readonly (Tensor | undefined)[]): boolean {
  return isGradEnabled() && inputs.some((input) => input?.requiresGrad);
}

/**
 * Records `op` if any input requires grad: marks the output as requiring grad and keeps handles
 * on `saved`. Returns the output for chaining.
 */
export function record<K extends OpName>(
  op: K,
  inputs: readonly Tensor[],
  output: Tensor,
  attributes: OpAttributes[K],
  saved: readonly Tensor[] = [],
): Tensor {
  if (!needsGrad(inputs)) return output;
  const node: TapeNode<K> = {
    op,
    inputs,
    output,
    // The tape owns these handles: no enclosing `tidy` may dispose them.
    saved: saved.map((tensor) => keep(tensor.share())),
    attributes,
  };
  output.requiresGrad = true;
  output.node = node as unknown as TapeNode;
  nodes.push(node as unknown as TapeNode);
  return output;
}

/** The recorded nodes, oldest first. */
export function tapeNodes(): readonly TapeNode[] {
  return nodes;
}

/** Drops every recorded node and releases the values it kept. */
export function clearTape(): void {
  for (const node of nodes.splice(0)) {
    for (const tensor of node.saved) tensor.dispose();
    node.output.node = undefined;
  }
}
