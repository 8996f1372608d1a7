/**
 * k-means on the GPU (Lloyd's algorithm, squared Euclidean distance), as faiss runs it: the
 * points stay on the GPU in chunks that each fit a storage binding; each iteration uploads the
 * centroids, scores every chunk with one matmul (`x . c - |c|^2 / 2`, whose argmax is the nearest
 * centroid) and keeps the best with `knnTopK` (k = 1, column ranges under lavapipe's loop limit,
 * lowest centroid on ties), reads all assignments back at once, and updates the centroids on the
 * host in float64. An empty cluster takes half of the largest one (faiss's split). Init: random
 * distinct points (faiss) or k-means++.
 * @module
 */
import { gpu } from "../gpu/device.ts";
import { ShapeError } from "../gpu/errors.ts";
import { knnTopK } from "../eval/knn.ts";
import { matmul } from "../ops/matmul/forward.ts";
import { Random } from "../tensor/random.ts";
import { noGrad } from "../tensor/tape.ts";
import { readAll, Tensor, tensor } from "../tensor/tensor.ts";
import type { RowMatrix } from "./knn_search.ts";

/** How the first centroids are chosen. */
export type KmeansInit = "random" | "kmeans++";

/** Options of `kmeans`. */
export interface KmeansOptions {
  /** Clusters. */
  k: number;
  /** Lloyd iterations (default 25, faiss's). */
  iterations?: number;
  /** Init (default "random": k distinct points, as faiss). */
  init?: KmeansInit;
  /** Seed of the init (default 0). */
  seed?: number;
  /** Start from these centroids [k, dim] instead of an init (refinement). */
  initialCentroids?: Float32Array;
  /** Called after each iteration with its number (from 1) and the inertia before the update. */
  onIteration?: (iteration: number, inertia: number) => void;
}

/** What `kmeans` returns. */
export interface KmeansResult {
  /** Centroids [k, dim]. */
  centroids: Float32Array;
  /** Nearest centroid of each point, for the final centroids. */
  assignment: Int32Array;
  /** Points per cluster. */
  sizes: Int32Array;
  /** Sum of squared distances of the points to their centroids (float64 from f32 scores). */
  inertia: number;
  /** Squared distance of each point to its centroid. */
  distances: Float64Array;
}

/** Points uploaded once, scored against centroids many times. */
export class GpuPoints {
  readonly #chunks: { features: Tensor; start: number; end: number }[] = [];
  readonly #norms: Float64Array;
  /** Number of points. */
  readonly rows: number;
  /** Values per point. */
  readonly dim: number;

  /** Uploads `points` in chunks of at most `chunkRows` rows (default: the binding limit). */
  constructor(points: RowMatrix, chunkRows?: number) {
    const { data, dim } = points;
    if (!Number.isInteger(dim) || dim < 1 || data.length % dim !== 0) {
      throw new ShapeError(`kmeans: ${data.length} values are not rows of ${dim}`);
    }
    this.rows = data.length / dim;
    this.dim = dim;
    this.#norms = new Float64Array(this.rows);
    for (let row = 0; row < this.rows; row++) {
      let sum = 0;
      for (let d = 0; d < dim; d++) sum += data[row * dim + d] ** 2;
      this.#norms[row] = sum;
    }
    const limit = gpu().limits.maxStorageBufferBindingSize;
    const size = Math.max(1, Math.min(chunkRows ?? Infinity, Math.floor(limit / (4 * dim))));
    for (let start = 0; start < this.rows; start += size) {
      const end = Math.min(this.rows, start + size);
      this.#chunks.push({
        features: tensor(data.subarray(start * dim, end * dim), [end - start, dim]),
        start,
        end,
      });
    }
  }

  /**
   * The nearest of `centroids` ([k, dim]) for every point (lowest centroid on ties) and the
   * squared distance to it; one readback.
   */
  async nearest(
    centroids: Float32Array,
  ): Promise<{ assignment: Int32Array; distances: Float64Array }> {
    const { dim } = this;
    const k = centroids.length / dim;
    const halfNorms = new Float32Array(k);
    for (let c = 0; c < k; c++) {
      let sum = 0;
      for (let d = 0; d < dim; d++) sum += centroids[c * dim + d] ** 2;
      halfNorms[c] = -sum / 2;
    }
    const limit = gpu().limits.maxStorageBufferBindingSize;
    const batch = Math.max(1, Math.floor(limit / (4 * k)));
    const labels = tensor(new Int32Array(1), [1], "i32");
    const centroidTensor = tensor(centroids, [k, dim]);
    const bias = tensor(halfNorms, [k]);
    const outputs: { values: Tensor; indices: Tensor; start: number }[] = [];
    try {
      noGrad(() => {
        for (const chunk of this.#chunks) {
          for (let start = chunk.start; start < chunk.end; start += batch) {
            const end = Math.min(chunk.end, start + batch);
            const rows = end - start;
            const points = rows === chunk.end - chunk.start
              ? chunk.features
              : rowsOf(chunk.features, start - chunk.start, end - chunk.start);
            const scores = matmul(points, centroidTensor, { transposeB: true, bias });
            if (points !== chunk.features) points.dispose();
            const best = {
              values: Tensor.empty([rows, 1]),
              indices: Tensor.empty([rows, 1], "i32"),
            };
            knnTopK(scores, labels, best, { k: 1, columnOffset: 0, merge: false });
            scores.dispose();
            outputs.push({ ...best, start });
          }
        }
      });
      const read = await readAll(outputs.flatMap((output) => [output.values, output.indices]));
      const assignment = new Int32Array(this.rows);
      const distances = new Float64Array(this.rows);
      outputs.forEach((output, i) => {
        const values = read[2 * i] as Float32Array;
        assignment.set(read[2 * i + 1] as Int32Array, output.start);
        values.forEach((score, j) => {
          distances[output.start + j] = Math.max(0, this.#norms[output.start + j] - 2 * score);
        });
      });
      return { assignment, distances };
    } finally {
      for (const t of [labels, centroidTensor, bias]) t.dispose();
      for (const output of outputs) {
        output.values.dispose();
        output.indices.dispose();
      }
    }
  }

  /** Frees the GPU copies. */
  dispose(): void {
    for (const chunk of this.#chunks) chunk.features.dispose();
    this.#chunks.length = 0;
  }
}

/** Rows [start, end) of a 2-D tensor as a new tensor (a GPU copy). */
function rowsOf(source: Tensor, start: number, end: number): Tensor {
  const dim = source.shape[1];
  const result = Tensor.empty([end - start, dim]);
  gpu().copy(source.buffer, start * dim * 4, result.buffer, 0, (end - start) * dim * 4);
  return result;
}

/** `k` distinct rows of `points` drawn at random, as initial centroids. */
function randomInit(points: RowMatrix, k: number, random: Random): Float32Array {
  const rows = points.data.length / points.dim;
  const order = Int32Array.from({ length: rows }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + random.int(rows - i);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const centroids = new Float32Array(k * points.dim);
  for (let c = 0; c < k; c++) {
    centroids.set(
      points.data.subarray(order[c] * points.dim, (order[c] + 1) * points.dim),
      c * points.dim,
    );
  }
  return centroids;
}

/**
 * k-means++ (Arthur and Vassilvitskii): the first centroid at random, each next one a point drawn
 * with probability proportional to its squared distance to the nearest centroid so far (host,
 * one pass over the points per centroid).
 */
function plusPlusInit(points: RowMatrix, k: number, random: Random): Float32Array {
  const { data, dim } = points;
  const rows = data.length / dim;
  const centroids = new Float32Array(k * dim);
  const nearest = new Float64Array(rows).fill(Infinity);
  let chosen = random.int(rows);
  for (let c = 0; c < k; c++) {
    centroids.set(data.subarray(chosen * dim, (chosen + 1) * dim), c * dim);
    let total = 0;
    for (let row = 0; row < rows; row++) {
      let distance = 0;
      for (let d = 0; d < dim; d++) distance += (data[row * dim + d] - data[chosen * dim + d]) ** 2;
      if (distance < nearest[row]) nearest[row] = distance;
      total += nearest[row];
    }
    let target = random.uniform(0, total);
    chosen = rows - 1;
    for (let row = 0; row < rows; row++) {
      target -= nearest[row];
      if (target < 0) {
        chosen = row;
        break;
      }
    }
  }
  return centroids;
}

/**
 * New centroids: the float64 mean of each cluster's points; an empty cluster takes half of the
 * largest (its centroid nudged by +-1/1024 of itself on both sides, sizes split, as faiss does).
 */
export function updateCentroids(
  points: RowMatrix,
  assignment: Int32Array,
  k: number,
  previous: Float32Array,
): { centroids: Float32Array; sizes: Int32Array } {
  const { data, dim } = points;
  const sums = new Float64Array(k * dim);
  const sizes = new Int32Array(k);
  assignment.forEach((cluster, row) => {
    sizes[cluster]++;
    const at = cluster * dim;
    for (let d = 0; d < dim; d++) sums[at + d] += data[row * dim + d];
  });
  const centroids = new Float32Array(k * dim);
  for (let c = 0; c < k; c++) {
    for (let d = 0; d < dim; d++) {
      centroids[c * dim + d] = sizes[c] > 0 ? sums[c * dim + d] / sizes[c] : previous[c * dim + d];
    }
  }
  const epsilon = 1 / 1024;
  for (let c = 0; c < k; c++) {
    if (sizes[c] > 0) continue;
    let largest = 0;
    for (let other = 1; other < k; other++) if (sizes[other] > sizes[largest]) largest = other;
    if (sizes[largest] < 2) break;
    for (let d = 0; d < dim; d++) {
      const value = centroids[largest * dim + d];
      const sign = d % 2 === 0 ? 1 : -1;
      centroids[c * dim + d] = value * (1 + sign * epsilon);
      centroids[largest * dim + d] = value * (1 - sign * epsilon);
    }
    sizes[c] = Math.floor(sizes[largest] / 2);
    sizes[largest] -= sizes[c];
  }
  return { centroids, sizes };
}

/** k-means of `points` (see the module doc); the result's assignment fits its centroids. */
export async function kmeans(points: RowMatrix, options: KmeansOptions): Promise<KmeansResult> {
  const { k, iterations = 25, init = "random", seed = 0 } = options;
  const rows = points.data.length / points.dim;
  if (!Number.isInteger(k) || k < 1 || k > rows) {
    throw new ShapeError(`kmeans: k must be a whole number in 1..${rows} (the points), got ${k}`);
  }
  if (!Number.isInteger(iterations) || iterations < 0) {
    throw new ShapeError(`kmeans: iterations must be a whole number >= 0, got ${iterations}`);
  }
  const random = new Random(seed);
  if (options.initialCentroids && options.initialCentroids.length !== k * points.dim) {
    throw new ShapeError(
      `kmeans: ${options.initialCentroids.length} initial centroid values for k ${k} x ` +
        `dim ${points.dim}`,
    );
  }
  let centroids = options.initialCentroids?.slice() ??
    (init === "kmeans++" ? plusPlusInit(points, k, random) : randomInit(points, k, random));
  const gpuPoints = new GpuPoints(points);
  try {
    for (let iteration = 1; iteration <= iterations; iteration++) {
      const { assignment, distances } = await gpuPoints.nearest(centroids);
      options.onIteration?.(iteration, distances.reduce((sum, value) => sum + value, 0));
      centroids = updateCentroids(points, assignment, k, centroids).centroids;
    }
    const { assignment, distances } = await gpuPoints.nearest(centroids);
    const sizes = new Int32Array(k);
    for (const cluster of assignment) sizes[cluster]++;
    const inertia = distances.reduce((sum, value) => sum + value, 0);
    return { centroids, assignment, sizes, inertia, distances };
  } finally {
    gpuPoints.dispose();
  }
}
