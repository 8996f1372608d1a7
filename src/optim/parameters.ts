/**
 * What the optimizers share about the parameters they update.
 * @module
 */
import { ShapeError } from "../gpu/errors.ts";
import type { Tensor } from "../tensor/tensor.ts";

/**
 * Indices of the parameters a step of `optimizer` (its name, for errors) updates: those that
 * require grad and hold a gradient (empty parameters skipped). A gradient that is not f32 or not
 * the parameter's size is a ShapeError naming both.
 */
export function updatedParameters(params: readonly Tensor[], optimizer: string): number[] {
  const updated: number[] = [];
  params.forEach((param, index) => {
    const grad = param.grad;
    if (!param.requiresGrad || !grad || param.size === 0) return;
    if (grad.size !== param.size || grad.dtype !== "f32") {
      throw new ShapeError(
        `${optimizer}.step: gradient of parameter ${index} does not match it: ` +
          `${param.describe()} has gradient ${grad.describe()}`,
      );
    }
    updated.push(index);
  });
  return updated;
}
