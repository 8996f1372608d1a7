/**
 * Float64 CPU references of the elementwise ops, which the tests check the GPU kernels and the
 * gradient rules against (tests/ops/elementwise_test.ts).
 * @module
 */
import { type Shape, shapeSize } from "../../tensor/tensor.ts";

/** NumPy broadcast of two shapes (float64 reference side). */
export function broadcastShape(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, axis) => {
    const x = a[axis - rank + a.length] ?? 1;
    const y = b[axis - rank + b.length] ?? 1;
    return x === 1 ? y : x;
  });
}

/** Flat index into a (possibly broadcast) input of `shape` for output coordinates `coords`. */
export function sourceIndex(shape: Shape, coords: number[]): number {
  let index = 0;
  const offset = coords.length - shape.length;
  for (let axis = 0; axis < shape.length; axis++) {
    const coordinate = shape[axis] === 1 ? 0 : coords[axis + offset];
    index = index * shape[axis] + coordinate;
  }
  return index;
}

/** Float64 reference of a broadcast binary op. */
export function binaryReference(
  aShape: Shape,
  bShape: Shape,
  f: (x: number, y: number) => number,
): (a: Float64Array, b: Float64Array) => Float64Array {
  return (a, b) => {
    const out = broadcastShape(aShape, bShape);
    const result = new Float64Array(shapeSize(out));
    const coords = new Array(out.length).fill(0);
    for (let i = 0; i < result.length; i++) {
      let rest = i;
      for (let axis = out.length - 1; axis >= 0; axis--) {
        coords[axis] = rest % out[axis];
        rest = Math.floor(rest / out[axis]);
      }
      result[i] = f(a[sourceIndex(aShape, coords)], b[sourceIndex(bShape, coords)]);
    }
    return result;
  };
}

/** erf in float64 (power series below 3, continued fraction for erfc above), good to ~1e-15. */
export function erf(x: number): number {
  // series / continued fraction good to ~1e-15 for |x| < 6
  const sign = Math.sign(x);
  const z = Math.abs(x);
  if (z < 3) {
    let term = z;
    let total = z;
    for (let n = 1; n < 100; n++) {
      term *= -z * z / n;
      const add = term / (2 * n + 1);
      total += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return sign * total * 2 / Math.sqrt(Math.PI);
  }
  // continued fraction for erfc
  let fraction = 0;
  for (let n = 60; n >= 1; n--) fraction = n / 2 / (z + fraction);
  return sign * (1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + fraction));
}

/** GELU in its erf form (PyTorch's default), in float64. */
export function geluReference(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** SiLU x sigmoid(x), in float64. */
export function siluReference(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** GELU's derivative Phi(x) + x phi(x) (phi the standard normal density), in float64. */
export function geluDerivativeReference(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2)) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}

/** SiLU's derivative s (1 + x (1 - s)), s = sigmoid(x), in float64. */
export function siluDerivativeReference(x: number): number {
  const s = 1 / (1 + Math.exp(-x));
  return s * (1 + x * (1 - s));
}
