/**
 * `sharedProduct`: the matmul problem of one [m, k] x [k, n] product (no batch, no transposes), as
 * the kernel choice sees it; the f32 tolerances the matmul tests check values and gradients with.
 * @module
 */
import type { MatmulProblem } from "../../src/ops/matmul/variants.ts";

/** One [m, k] x [k, n] product of shared (2-D) operands, then `fields`. */
export function sharedProduct(
  m: number,
  n: number,
  k: number,
  fields: Partial<MatmulProblem> = {},
): MatmulProblem {
  return {
    batch: 1,
    m,
    n,
    k,
    transposeA: false,
    transposeB: false,
    sharedA: true,
    sharedB: true,
    ...fields,
  };
}

/** Tolerance of f32 matmul values against the float64 reference. */
export const TOLERANCE = { absolute: 2e-4, relative: 2e-4 };
/** Tolerance of matmul gradients against finite differences. */
export const GRAD_TOLERANCE = { absolute: 5e-4, relative: 2e-3 };
