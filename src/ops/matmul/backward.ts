/**
 * Gradient rules of the matmul ops (src/ops/matmul/forward.ts). With Z = op(A) op(B) + bias and
 * Y = act(Z) + residual: dZ = dY act'(Z), d op(A) = dZ op(B)^T, d op(B) = op(A)^T dZ,
 * dbias = dZ summed over rows, dresidual = dY. An operand shared across the batch gets the sum
 * over batch entries. f16 operands are widened to f32 for these products (exact), and their
 * gradients are f32.
 * @module
 */
import { widenedToF32 } from "../cast/forward.ts";
import { activationBackward } from "../elementwise/forward.ts";
import { matmul, type MatmulOps, sumBlocks } from "./forward.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import type { GradTable } from "../../tensor/grad_rule.ts";

/** gradOut * gelu'(pre), elementwise (a pre-activation saved as f16 widened first). */
function geluBackward(gradOutput: Tensor, savedPre: Tensor): Tensor {
  const pre = widenedToF32(savedPre);
  const result = activationBackward("gelu", pre, gradOutput);
  if (pre !== savedPre) pre.dispose();
  return result;
}

/** Collapses a batched gradient to the shape of an operand shared across the batch. */
function reduceToShared(grad: Tensor, operand: Tensor): Tensor {
  if (grad.rank === operand.rank) return grad;
  const summed = sumBlocks(grad, grad.size / Math.max(1, operand.size), [...operand.shape]);
  grad.dispose();
  return summed;
}

/** Gradient rules of the matmul ops. */
export const matmulGrads: GradTable<keyof MatmulOps> = {
  matmul: (gradOutput, node) => {
    const { transposeA, transposeB, activation, hasBias, hasResidual } = node.attributes;
    const [aInput, bInput] = node.inputs;
    const [savedA, savedB, pre] = node.saved;
    const gradZ = activation === "gelu" ? geluBackward(gradOutput, pre) : gradOutput;
    const grads: (Tensor | undefined)[] = [undefined, undefined];

    if (aInput.requiresGrad) {
      // d op(A) = dZ op(B)^T; for A stored as [K, M]: dA = op(B) dZ^T.
      const b = widenedToF32(savedB);
      const gradA = transposeA
        ? matmul(b, gradZ, { transposeA: transposeB, transposeB: true })
        : matmul(gradZ, b, { transposeB: !transposeB });
      if (b !== savedB) b.dispose();
      grads[0] = reduceToShared(gradA, savedA);
    }

    if (bInput.requiresGrad) {
      const a = widenedToF32(savedA);
      const b = savedB;
      const flatten = b.rank === 2 && a.rank > 2 && !transposeA;
      if (flatten) {
        // b shared, a [..., M, K]: fold the batch into the rows and get the sum in one product.
        const k = a.shape.at(-1)!;
        const n = gradZ.shape.at(-1)!;
        const aRows = a.view([a.size / k, k]);
        const gradRows = gradZ.view([gradZ.size / n, n]);
        grads[1] = transposeB
          ? matmul(gradRows, aRows, { transposeA: true })
          : matmul(aRows, gradRows, { transposeA: true });
        aRows.dispose();
        gradRows.dispose();
      } else {
        // d op(B) = op(A)^T dZ; for B stored as [N, K]: dB = dZ^T op(A).
        const gradB = transposeB
          ? matmul(gradZ, a, { transposeA: true, transposeB: transposeA })
          : matmul(a, gradZ, { transposeA: !transposeA });
        grads[1] = reduceToShared(gradB, b);
      }
      if (a !== savedA) a.dispose();
    }

    if (hasBias) {
      const bias = node.inputs[2];
      grads.push(
        bias.requiresGrad
          ? sumBlocks(gradZ, gradZ.size / Math.max(1, bias.size), [bias.size])
          : undefined,
      );
    }
    if (hasResidual) grads.push(gradOutput);
    if (gradZ !== gradOutput) gradZ.dispose();
    return grads;
  },
};
