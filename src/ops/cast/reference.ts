/**
 * CPU reference of the cast op, which tests/ops/cast_test.ts checks the kernels against: IEEE
 * round-to-nearest-even to half precision through `Float16Array` (overflow to infinity, NaN kept),
 * and the exact widening back.
 * @module
 */

/** Each value rounded to the nearest f16 (ties to even), as a number. */
export function toF16Reference(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float16Array.from(values));
}
