/**
 * Float64 CPU references of the matmul ops, which the tests check the GPU kernels and the
 * gradient rules against (tests/ops/matmul_test.ts).
 * @module
 */
import type { Shape } from "../../tensor/tensor.ts";
import type { MatmulOptions } from "./forward.ts";
import { geluReference } from "../elementwise/reference.ts";

/** Output shape and a float64 reference for matmul(a, b, options); inputs a, b, bias?, residual?. */
/** The operands of a matmul case: shapes and options (bias and residual only flag presence). */
export interface MatmulLayout {
  aShape: Shape;
  bShape: Shape;
  options: MatmulOptions;
}

/** Output shape and a float64 reference for matmul(a, b, options); inputs a, b, bias?, residual?. */
export function matmulReference({ aShape, bShape, options }: MatmulLayout) {
  const transposeA = options.transposeA ?? false;
  const transposeB = options.transposeB ?? false;
  const [aRows, aCols] = aShape.slice(-2);
  const [bRows, bCols] = bShape.slice(-2);
  const m = transposeA ? aCols : aRows;
  const k = transposeA ? aRows : aCols;
  const n = transposeB ? bRows : bCols;
  const batchShape = aShape.length > 2 ? aShape.slice(0, -2) : bShape.slice(0, -2);
  const batch = batchShape.reduce((x, y) => x * y, 1);
  const aStride = aShape.length > 2 ? m * k : 0;
  const bStride = bShape.length > 2 ? k * n : 0;
  const hasBias = options.bias !== undefined;
  const hasResidual = options.residual !== undefined;
  const compute = (...inputs: Float64Array[]) => {
    const [a, b] = inputs;
    const bias = hasBias ? inputs[2] : undefined;
    const residual = hasResidual ? inputs[hasBias ? 3 : 2] : undefined;
    const out = new Float64Array(batch * m * n);
    for (let p = 0; p < batch; p++) {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let sum = 0;
          for (let l = 0; l < k; l++) {
            const x = a[p * aStride + (transposeA ? l * m + i : i * k + l)];
            const y = b[p * bStride + (transposeB ? j * k + l : l * n + j)];
            sum += x * y;
          }
          if (bias) sum += bias[j];
          if (options.activation === "gelu") sum = geluReference(sum);
          const index = (p * m + i) * n + j;
          if (residual) sum += residual[index];
          out[index] = sum;
        }
      }
    }
    return out;
  };
  return { outputShape: [...batchShape, m, n], m, n, k, batch, compute };
}
