/**
 * Float64 CPU references of the reduction ops, which the tests check the GPU kernels and the
 * gradient rules against (tests/ops/reduction_test.ts).
 * @module
 */
import { type Shape, shapeSize } from "../../tensor/tensor.ts";

/** Float64 reduction over `axis` of `shape` with `combine`, starting from `initial`. */
export function reduceReference(
  shape: Shape,
  axis: number,
  combine: (accumulator: number, value: number) => number,
  initial: number,
  finish: (value: number, length: number) => number = (value) => value,
): (x: Float64Array) => Float64Array {
  return (x) => {
    const outer = shapeSize(shape.slice(0, axis));
    const length = shape[axis];
    const inner = shapeSize(shape.slice(axis + 1));
    const result = new Float64Array(outer * inner);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let accumulator = initial;
        for (let k = 0; k < length; k++) {
          accumulator = combine(accumulator, x[(o * length + k) * inner + i]);
        }
        result[o * inner + i] = finish(accumulator, length);
      }
    }
    return result;
  };
}

/** The shape left after reducing `axis` (kept as 1 with `keepDims`). */
export function reducedShape(shape: Shape, axis: number, keepDims: boolean): number[] {
  return keepDims
    ? shape.map((extent, index) => (index === axis ? 1 : extent))
    : shape.filter((_, index) => index !== axis);
}

/** Float64 x / max(||x||, eps) over rows of `length` (F.normalize). */
export function l2NormalizeReference(length: number, eps: number) {
  return (x: Float64Array) => {
    const result = new Float64Array(x.length);
    for (let row = 0; row < x.length / length; row++) {
      let squares = 0;
      for (let k = 0; k < length; k++) squares += x[row * length + k] ** 2;
      const denominator = Math.max(Math.sqrt(squares), eps);
      for (let k = 0; k < length; k++) result[row * length + k] = x[row * length + k] / denominator;
    }
    return result;
  };
}
