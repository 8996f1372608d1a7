/**
 * Hierarchical k-means with resampling and balanced sampling, after ssl-data-curation (Vo et al.
 * 2024, "Automatic data curation for self-supervised learning"): level 0 clusters the points,
 * each next level clusters the centroids of the level below. After each level's k-means,
 * `resampling` steps take the `sampleSize` points nearest each centroid, rerun k-means on their
 * union from the current centroids (so every cluster weighs the same: centroids move towards the
 * modes, not the dense regions) and reassign all points. Balanced sampling then goes top-down:
 * each node's quota is split evenly among its children (a child with fewer points than its share
 * gives the rest to its siblings), and a leaf picks its points at random or nearest its centroid.
 * @module
 */
import { ShapeError } from "../gpu/errors.ts";
import { Random } from "../tensor/random.ts";
import { GpuPoints, kmeans, type KmeansInit } from "./kmeans.ts";
import type { RowMatrix } from "./knn_search.ts";

/** Options of `hierarchicalKmeans`. */
export interface HierarchyOptions {
  /** Clusters per level, bottom first (ssl-data-curation's 4 levels on LVD: 10M, 500k, 50k, 20k). */
  levels: readonly number[];
  /** Lloyd iterations per k-means (default 25). */
  iterations?: number;
  /** Init of each level's k-means (default "kmeans++"). */
  init?: KmeansInit;
  /** Seed (default 0). */
  seed?: number;
  /** Resampling refinement steps per level (default 0: none). */
  resampleSteps?: number;
  /** Points nearest each centroid that a resampling step keeps (default 10). */
  sampleSize?: number;
  /** Called when a level is done with its index and its inertia. */
  onLevel?: (level: number, inertia: number) => void;
}

/** One level of the tree. */
export interface ClusterLevel {
  /** Clusters. */
  k: number;
  /** Centroids [k, dim]. */
  centroids: Float32Array;
  /** Cluster of the level above for each cluster (-1 at the top level). */
  parent: Int32Array;
  /** Points (rows of the data) under each cluster. */
  sizes: Int32Array;
}

/** What `hierarchicalKmeans` returns. */
export interface ClusterTree {
  /** The levels, bottom (leaves) first. */
  levels: ClusterLevel[];
  /** Leaf cluster of each point. */
  leafOfRow: Int32Array;
  /** Squared distance of each point to its leaf centroid. */
  distances: Float64Array;
}

/** Rows `indices` of `matrix` as a new matrix. */
function pickRows(matrix: RowMatrix, indices: ArrayLike<number>): RowMatrix {
  const { data, dim } = matrix;
  const picked = new Float32Array(indices.length * dim);
  for (let i = 0; i < indices.length; i++) {
    picked.set(data.subarray(indices[i] * dim, (indices[i] + 1) * dim), i * dim);
  }
  return { data: picked, dim };
}

/** The `count` rows of each cluster nearest its centroid (all of a smaller cluster). */
function nearestPerCluster(
  assignment: Int32Array,
  distances: Float64Array,
  k: number,
  count: number,
): number[] {
  const members: number[][] = Array.from({ length: k }, () => []);
  assignment.forEach((cluster, row) => members[cluster].push(row));
  return members.flatMap((rows) =>
    rows.sort((a, b) => distances[a] - distances[b] || a - b).slice(0, count)
  );
}

/** Hierarchical k-means of `points` (see the module doc). */
export async function hierarchicalKmeans(
  points: RowMatrix,
  options: HierarchyOptions,
): Promise<ClusterTree> {
  const { iterations = 25, init = "kmeans++", seed = 0 } = options;
  const { resampleSteps = 0, sampleSize = 10 } = options;
  const rows = points.data.length / points.dim;
  options.levels.forEach((k, level) => {
    const below = level === 0 ? rows : options.levels[level - 1];
    if (!Number.isInteger(k) || k < 1 || k > below) {
      throw new ShapeError(
        `hierarchicalKmeans: level ${level} has ${k} clusters for ${below} ` +
          `${level === 0 ? "points" : "centroids"} below it (need 1..${below})`,
      );
    }
  });
  const levels: ClusterLevel[] = [];
  let input = points;
  let leafOfRow: Int32Array = new Int32Array(rows);
  let distances: Float64Array = new Float64Array(rows);
  for (const [level, k] of options.levels.entries()) {
    let result = await kmeans(input, { k, iterations, init, seed: seed + level });
    for (let step = 0; step < resampleSteps; step++) {
      const sample = nearestPerCluster(result.assignment, result.distances, k, sampleSize);
      if (sample.length < k) break; // fewer points than clusters: nothing to refine
      const refined = await kmeans(pickRows(input, sample), {
        k,
        iterations,
        initialCentroids: result.centroids,
      });
      const all = new GpuPoints(input);
      try {
        const { assignment, distances } = await all.nearest(refined.centroids);
        const sizes = new Int32Array(k);
        for (const cluster of assignment) sizes[cluster]++;
        const inertia = distances.reduce((sum, value) => sum + value, 0);
        result = { centroids: refined.centroids, assignment, distances, sizes, inertia };
      } finally {
        all.dispose();
      }
    }
    options.onLevel?.(level, result.inertia);
    if (level === 0) {
      leafOfRow = result.assignment;
      distances = result.distances;
    } else {
      levels[level - 1].parent = result.assignment;
    }
    levels.push({
      k,
      centroids: result.centroids,
      parent: new Int32Array(k).fill(-1),
      sizes: new Int32Array(k),
    });
    input = { data: result.centroids, dim: points.dim };
  }
  // points under each cluster, bottom up
  for (const leaf of leafOfRow) levels[0].sizes[leaf]++;
  for (let level = 1; level < levels.length; level++) {
    levels[level - 1].parent.forEach((parent, child) => {
      levels[level].sizes[parent] += levels[level - 1].sizes[child];
    });
  }
  return { levels, leafOfRow, distances };
}

/**
 * Splits `target` among groups of `sizes` as evenly as their sizes allow: the smallest first,
 * each taking at most its size and at most its share (rounded up) of what is left.
 */
export function balancedCounts(sizes: ArrayLike<number>, target: number): Int32Array {
  const order = Array.from({ length: sizes.length }, (_, i) => i)
    .sort((a, b) => sizes[a] - sizes[b] || a - b);
  const counts = new Int32Array(sizes.length);
  let remaining = target;
  order.forEach((group, i) => {
    const take = Math.min(sizes[group], Math.ceil(remaining / (order.length - i)));
    counts[group] = take;
    remaining -= take;
  });
  return counts;
}

/** How a leaf picks its points. */
export type LeafPick = "random" | "closest";

/**
 * Balanced top-down sampling of `target` rows from `tree` (all rows when target >= rows):
 * the sampled rows, ascending.
 */
export function balancedSample(
  tree: ClusterTree,
  target: number,
  options: { pick?: LeafPick; seed?: number } = {},
): Int32Array {
  const { pick = "random", seed = 0 } = options;
  const { levels, leafOfRow, distances } = tree;
  const top = levels.length - 1;
  // children of every cluster of every level above 0, and the rows of each leaf
  const children = levels.map((level) => Array.from({ length: level.k }, () => [] as number[]));
  for (let level = 1; level <= top; level++) {
    levels[level - 1].parent.forEach((parent, child) => children[level][parent].push(child));
  }
  const leafRows = Array.from({ length: levels[0].k }, () => [] as number[]);
  leafOfRow.forEach((leaf, row) => leafRows[leaf].push(row));
  const random = new Random(seed);
  const sampled: number[] = [];
  const visit = (level: number, cluster: number, quota: number) => {
    if (quota <= 0) return;
    if (level === 0) {
      const rows = leafRows[cluster];
      if (pick === "closest") {
        rows.sort((a, b) => distances[a] - distances[b] || a - b);
      } else {
        for (let i = 0; i < Math.min(quota, rows.length); i++) {
          const j = i + random.int(rows.length - i);
          [rows[i], rows[j]] = [rows[j], rows[i]];
        }
      }
      sampled.push(...rows.slice(0, quota));
      return;
    }
    const kids = children[level][cluster];
    const counts = balancedCounts(kids.map((kid) => levels[level - 1].sizes[kid]), quota);
    kids.forEach((kid, i) => visit(level - 1, kid, counts[i]));
  };
  const topCounts = balancedCounts(levels[top].sizes, target);
  for (let cluster = 0; cluster < levels[top].k; cluster++) visit(top, cluster, topCounts[cluster]);
  return Int32Array.from(sampled).sort();
}
