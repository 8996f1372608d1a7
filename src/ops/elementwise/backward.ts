/**
 * Gradient rules of the elementwise ops (src/ops/elementwise/forward.ts). Broadcast inputs get
 * their gradient summed back to their own shape with `sumToShape`.
 * @module
 */
import { activationBackward, div, type ElementwiseOps, mul, scale } from "./forward.ts";
import { sumToShape } from "../reduction/forward.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import type { GradTable } from "../../tensor/grad_rule.ts";

/** `sumToShape(value, shape)`, disposing `value` when a new tensor was made from it. */
function reduceOwned(value: Tensor, shape: readonly number[]): Tensor {
  const reduced = sumToShape(value, shape);
  if (reduced !== value) value.dispose();
  return reduced;
}

/** Gradient rules of the elementwise ops. */
export const elementwiseGrads: GradTable<keyof ElementwiseOps> = {
  add: (gradOut, node) => [
    sumToShape(gradOut, node.inputs[0].shape),
    sumToShape(gradOut, node.inputs[1].shape),
  ],
  sub: (gradOut, node) => [
    sumToShape(gradOut, node.inputs[0].shape),
    node.inputs[1].requiresGrad ? reduceOwned(scale(gradOut, -1), node.inputs[1].shape) : undefined,
  ],
  mul: (gradOut, node) => {
    // saved: b where a needs a gradient, then a where b does (see `mul`)
    const [wantA, wantB] = node.inputs.map((input) => input.requiresGrad);
    const b = wantA ? node.saved[0] : undefined;
    const a = wantB ? node.saved[wantA ? 1 : 0] : undefined;
    return [
      b ? reduceOwned(mul(gradOut, b), node.inputs[0].shape) : undefined,
      a ? reduceOwned(mul(gradOut, a), node.inputs[1].shape) : undefined,
    ];
  },
  div: (gradOut, node) => {
    const [a, b] = node.saved;
    // d(a / b)/da = 1 / b; d(a / b)/db = -a / b^2 = -(g / b) * a / b
    const quotient = div(gradOut, b);
    let gradB: Tensor | undefined;
    if (node.inputs[1].requiresGrad) {
      const product = mul(quotient, a);
      const ratio = div(product, b);
      product.dispose();
      gradB = reduceOwned(scale(ratio, -1), b.shape);
      ratio.dispose();
    }
    let gradA: Tensor | undefined;
    if (node.inputs[0].requiresGrad) gradA = reduceOwned(quotient, a.shape);
    else quotient.dispose();
    return [gradA, gradB];
  },
  scale: (gradOut, node) => [scale(gradOut, node.attributes.factor)],
  addScalar: (gradOut) => [gradOut],
  gelu: (gradOut, node) => [activationBackward("gelu", node.saved[0], gradOut)],
  silu: (gradOut, node) => [activationBackward("silu", node.saved[0], gradOut)],
};
