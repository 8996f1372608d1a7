/**
 * DINOv2-style PCA maps of patch features, on the CPU in float64: the first principal components
 * by orthogonal (subspace) iteration on the implicit covariance `X^T X` (never formed, so any
 * dim works), each component min-max normalised to [0, 255] as one RGB channel; optionally the
 * background (first component below a threshold) is removed and the components recomputed on the
 * foreground patches, as in DINOv2's visualisations.
 * @module
 */
import { ShapeError } from "../gpu/errors.ts";

/** Principal components of a [rows, dim] matrix. */
export interface PrincipalComponents {
  /** Column means [dim]. */
  mean: Float64Array;
  /** Unit components [count, dim], by decreasing variance. */
  components: Float64Array;
  /** Projections of the centred rows [rows, count]; each column's largest |value| is positive. */
  projections: Float64Array;
  /** Variance along each component (divided by rows - 1). */
  variances: Float64Array;
}

/** The first `count` principal components of `data` [rows, dim] (row-major). */
export function principalComponents(
  data: ArrayLike<number>,
  rows: number,
  dim: number,
  count = 3,
  { iterations = 500, tolerance = 1e-12, seed = 1 } = {},
): PrincipalComponents {
  if (data.length !== rows * dim || rows < 1 || dim < 1) {
    throw new ShapeError(`principalComponents: ${data.length} values for [${rows}, ${dim}]`);
  }
  if (!Number.isInteger(count) || count < 1 || count > dim) {
    throw new ShapeError(`principalComponents: count must be in 1..${dim}, got ${count}`);
  }
  const mean = new Float64Array(dim);
  for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) mean[d] += data[r * dim + d] / rows;
  const x = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    for (let d = 0; d < dim; d++) x[r * dim + d] = data[r * dim + d] - mean[d];
  }
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296 - 0.5;
  };
  let v = Float64Array.from({ length: count * dim }, next);
  orthonormalise(v, count, dim);
  const projections = new Float64Array(rows * count);
  for (let iteration = 0; iteration < iterations; iteration++) {
    project(x, v, rows, dim, count, projections);
    const w = new Float64Array(count * dim);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < count; c++) {
        const p = projections[r * count + c];
        if (p === 0) continue;
        for (let d = 0; d < dim; d++) w[c * dim + d] += p * x[r * dim + d];
      }
    }
    orthonormalise(w, count, dim);
    let change = 0;
    for (let c = 0; c < count; c++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += w[c * dim + d] * v[c * dim + d];
      change = Math.max(change, 1 - Math.abs(dot));
    }
    v = w;
    if (change < tolerance) break;
  }
  project(x, v, rows, dim, count, projections);
  const variances = new Float64Array(count);
  for (let c = 0; c < count; c++) {
    let sum = 0;
    let largest = 0;
    for (let r = 0; r < rows; r++) {
      const p = projections[r * count + c];
      sum += p * p;
      if (Math.abs(p) > Math.abs(largest)) largest = p;
    }
    variances[c] = sum / Math.max(rows - 1, 1);
    if (largest < 0) {
      for (let r = 0; r < rows; r++) projections[r * count + c] *= -1;
      for (let d = 0; d < dim; d++) v[c * dim + d] *= -1;
    }
  }
  return { mean, components: v, projections, variances };
}

function project(
  x: Float64Array,
  v: Float64Array,
  rows: number,
  dim: number,
  count: number,
  out: Float64Array,
): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < count; c++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += x[r * dim + d] * v[c * dim + d];
      out[r * count + c] = dot;
    }
  }
}

/** Modified Gram-Schmidt on the rows of `v` [count, dim], in place. */
function orthonormalise(v: Float64Array, count: number, dim: number): void {
  for (let c = 0; c < count; c++) {
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += v[c * dim + d] * v[p * dim + d];
      for (let d = 0; d < dim; d++) v[c * dim + d] -= dot * v[p * dim + d];
    }
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += v[c * dim + d] ** 2;
    norm = Math.sqrt(norm);
    if (norm < 1e-300) {
      for (let d = 0; d < dim; d++) v[c * dim + d] = d === c ? 1 : 0;
      c--; // retry with a basis vector, orthogonalised against the earlier rows
      continue;
    }
    for (let d = 0; d < dim; d++) v[c * dim + d] /= norm;
  }
}

/** Options of `pcaImages`. */
export interface PcaImageOptions {
  /** Patch grid height. */
  gridH: number;
  /** Patch grid width. */
  gridW: number;
  /** Output width (default gridW: one pixel per patch; upsampled nearest). */
  outW?: number;
  /** Output height (default gridH). */
  outH?: number;
  /**
   * Foreground threshold on the first component min-max normalised to [0, 1]: patches at or
   * below it are black, and the three components are recomputed on the foreground.
   */
  foregroundThreshold?: number;
}

/**
 * The DINOv2-style PCA image of each of `images` images from their patch features
 * [images * gridH * gridW, dim] (fitted jointly): RGB bytes [outH, outW, 3] per image.
 */
export function pcaImages(
  features: ArrayLike<number>,
  images: number,
  dim: number,
  options: PcaImageOptions,
): Uint8Array[] {
  const { gridH, gridW, foregroundThreshold } = options;
  const outW = options.outW ?? gridW;
  const outH = options.outH ?? gridH;
  const patches = gridH * gridW;
  const rows = images * patches;
  if (features.length !== rows * dim) {
    throw new ShapeError(
      `pcaImages: ${features.length} values for ${images} images of ${gridH}x${gridW} patches of ` +
        `dim ${dim} (want ${rows * dim})`,
    );
  }
  let selected = Array.from({ length: rows }, (_, i) => i);
  if (foregroundThreshold !== undefined) {
    const first = principalComponents(features, rows, dim, 1).projections;
    const [low, high] = minMax(first);
    selected = selected.filter((i) => (first[i] - low) / (high - low || 1) > foregroundThreshold);
    if (selected.length < 2) selected = Array.from({ length: rows }, (_, i) => i);
  }
  const colours = componentColours(features, dim, selected);
  return Array.from({ length: images }, (_, image) => {
    const out = new Uint8Array(outW * outH * 3);
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        const patch = Math.floor(y * gridH / outH) * gridW + Math.floor(x * gridW / outW);
        out.set(
          colours.subarray((image * patches + patch) * 3, (image * patches + patch) * 3 + 3),
          (y * outW + x) * 3,
        );
      }
    }
    return out;
  });
}

/**
 * RGB bytes [rows, 3] of the rows [rows, dim] of `features`: each row in `selected` coloured by
 * its first three principal components (fitted on the selected rows alone), each min-max scaled
 * to 0-255 over them; the other rows black.
 */
export function componentColours(
  features: ArrayLike<number>,
  dim: number,
  selected: readonly number[],
): Uint8Array {
  const subset = new Float64Array(selected.length * dim);
  selected.forEach((row, i) => {
    for (let d = 0; d < dim; d++) subset[i * dim + d] = features[row * dim + d];
  });
  const count = Math.min(3, dim);
  const { projections } = principalComponents(subset, selected.length, dim, count);
  const colours = new Uint8Array((features.length / dim) * 3);
  for (let c = 0; c < count; c++) {
    const column = Float64Array.from(
      { length: selected.length },
      (_, i) => projections[i * count + c],
    );
    const [low, high] = minMax(column);
    selected.forEach((row, i) => {
      colours[row * 3 + c] = Math.round(255 * (column[i] - low) / (high - low || 1));
    });
  }
  return colours;
}

/** The smallest and largest of `values` ([Infinity, -Infinity] when there are none). */
export function minMax(values: ArrayLike<number>): [number, number] {
  let low = Infinity;
  let high = -Infinity;
  for (let i = 0; i < values.length; i++) {
    low = Math.min(low, values[i]);
    high = Math.max(high, values[i]);
  }
  return [low, high];
}
