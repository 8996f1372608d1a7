/**
 * Reverse-mode differentiation over the tape: `backward(loss)` computes the gradient of `loss`
 * with respect to every leaf tensor that requires grad and accumulates it into `leaf.grad`.
 * @module
 */
import { ShapeError } from "../gpu/errors.ts";
import { gradRules } from "../ops/gradients.ts";
import type { GradRule } from "./grad_rule.ts";
import type { OpName } from "../ops/op_types.ts";
import { clearTape, noGrad, tapeNodes } from "./tape.ts";
import { accumulateInto, clone, formatShape, full, keep, type Tensor } from "./tensor.ts";

/**
 * Backpropagates from `loss` (a one-element tensor, or any tensor with `gradient` given), adds
 * the gradients into the leaves' `.grad` (so calling it again accumulates) and clears the tape.
 */
export function backward(loss: Tensor, gradient?: Tensor): void {
  if (!loss.requiresGrad) {
    throw new ShapeError(
      `backward: ${loss.describe()} does not require grad (no input of it requires grad, ` +
        `or it was computed under noGrad)`,
    );
  }
  if (!gradient && loss.size !== 1) {
    throw new ShapeError(
      `backward: ${loss.describe()} is not a scalar; pass the gradient of the output explicitly`,
    );
  }
  if (gradient && gradient.size !== loss.size) {
    throw new ShapeError(
      `backward: gradient shape ${formatShape(gradient.shape)} does not match output ` +
        `${formatShape(loss.shape)}`,
    );
  }
  noGrad(() => {
    const grads = new Map<Tensor, Tensor>();
    grads.set(loss, gradient ? clone(gradient) : full(loss.shape, 1));
    const add = (target: Tensor, contribution: Tensor) => {
      const existing = grads.get(target);
      if (!existing) grads.set(target, contribution);
      else {
        accumulateInto(existing, contribution);
        contribution.dispose();
      }
    };
    const nodes = tapeNodes();
    for (let index = nodes.length - 1; index >= 0; index--) {
      const node = nodes[index];
      const gradOutput = grads.get(node.output);
      if (!gradOutput) continue;
      grads.delete(node.output);
      const rule = gradRules[node.op] as GradRule<OpName>;
      const inputGrads = rule(gradOutput, node);
      const seen = new Set<Tensor>();
      node.inputs.forEach((input, position) => {
        let inputGrad = inputGrads[position];
        if (!inputGrad) return;
        if (!input.requiresGrad) {
          if (inputGrad !== gradOutput && !seen.has(inputGrad)) inputGrad.dispose();
          return;
        }
        if (inputGrad === gradOutput || seen.has(inputGrad)) inputGrad = clone(inputGrad);
        seen.add(inputGrad);
        if (inputGrad.size !== input.size) {
          throw new ShapeError(
            `backward: gradient rule of "${node.op}" returned ${
              formatShape(inputGrad.shape)
            } for input ${position} of shape ${formatShape(input.shape)}`,
          );
        }
        add(input, inputGrad);
      });
      gradOutput.dispose();
      for (const saved of node.saved) saved.dispose();
    }
    for (const [target, grad] of grads) {
      if (target.node) {
        grad.dispose(); // an intermediate not reached by any rule (not on the loss's path)
        continue;
      }
      const shaped = grad.shape.length === target.shape.length ? grad : grad.view(target.shape);
      if (shaped !== grad) grad.dispose();
      if (target.grad && !target.grad.disposed) {
        accumulateInto(target.grad, shaped);
        shaped.dispose();
      } else {
        target.grad = keep(shaped);
      }
    }
  });
  clearTape();
}

/** Disposes and clears `.grad` of each tensor. */
export function zeroGrad(parameters: Iterable<Tensor>): void {
  for (const parameter of parameters) {
    parameter.grad?.dispose();
    parameter.grad = undefined;
  }
}
