/**
 * Float64 CPU references of the shape ops, which the tests check the GPU kernels and the
 * gradient rules against (tests/ops/shape_test.ts).
 * @module
 */
import { type Shape, shapeSize } from "../../tensor/tensor.ts";

function strides(shape: Shape): number[] {
  const result = new Array<number>(shape.length);
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    result[d] = stride;
    stride *= shape[d];
  }
  return result;
}

/** Output axis d is input axis order[d]. */
export function permuteReference(x: Float64Array, shape: Shape, order: number[]): Float64Array {
  const outShape = order.map((axis) => shape[axis]);
  const inStrides = strides(shape);
  const out = new Float64Array(x.length);
  const coordinate = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < out.length; i++) {
    let rest = i;
    for (let d = outShape.length - 1; d >= 0; d--) {
      coordinate[d] = rest % outShape[d];
      rest = Math.floor(rest / outShape[d]);
    }
    let offset = 0;
    for (let d = 0; d < order.length; d++) offset += coordinate[d] * inStrides[order[d]];
    out[i] = x[offset];
  }
  return out;
}

/** Float64 concat of `parts` (of `shapes`) along `axis`. */
export function concatReference(
  parts: Float64Array[],
  shapes: Shape[],
  axis: number,
): Float64Array {
  const outer = shapeSize(shapes[0].slice(0, axis));
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    parts.forEach((part, index) => {
      const inner = shapeSize(shapes[index].slice(axis));
      for (let r = 0; r < inner; r++) out.push(part[o * inner + r]);
    });
  }
  return Float64Array.from(out);
}

/** Float64 slice along one axis. */
export function sliceReference(
  x: Float64Array,
  shape: Shape,
  axis: number,
  start: number,
  end: number,
): Float64Array {
  const outer = shapeSize(shape.slice(0, axis));
  const after = shapeSize(shape.slice(axis + 1));
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let i = start; i < end; i++) {
      for (let r = 0; r < after; r++) out.push(x[(o * shape[axis] + i) * after + r]);
    }
  }
  return Float64Array.from(out);
}

/** Float64 gatherRows: rows of x picked by indices (a row of zeros for an index out of range). */
export function gatherReference(
  x: Float64Array,
  rows: number,
  indices: Float64Array,
): Float64Array {
  const columns = x.length / rows;
  const out = new Float64Array(indices.length * columns);
  indices.forEach((row, k) => {
    if (row < 0 || row >= rows) return;
    for (let c = 0; c < columns; c++) out[k * columns + c] = x[row * columns + c];
  });
  return out;
}

/** Float64 scatterRows: rows of base replaced by the given rows (the last repeat wins). */
export function scatterReference(
  base: Float64Array,
  rows: number,
  indices: Float64Array,
  replacement: Float64Array,
): Float64Array {
  const columns = base.length / rows;
  const out = Float64Array.from(base);
  indices.forEach((row, k) => {
    if (row < 0 || row >= rows) return;
    for (let c = 0; c < columns; c++) out[row * columns + c] = replacement[k * columns + c];
  });
  return out;
}
