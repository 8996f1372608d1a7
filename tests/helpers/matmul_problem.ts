/**
 * `sharedProduct`: the matmul problem of one [m, k] x [k, n] product (no batch, no transposes), as
 * the kernel choice sees it.
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
