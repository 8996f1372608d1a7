/**
 * Near-duplicate removal as DINOv2 builds LVD-142M (appendix A): the k nearest neighbours of every
 * image by cosine, an edge where the similarity exceeds a threshold, connected components by
 * union-find, one image kept per component (the lowest row: the first in data order, so the
 * choice is deterministic); with a reference set, every component with a member closer than
 * `againstThreshold` to any reference image is dropped whole (test-set decontamination).
 * @module
 */
import { ShapeError } from "../gpu/errors.ts";
import { knnSearch, type KnnSearchResult, type RowMatrix } from "./knn_search.ts";
import { UnionFind } from "./union_find.ts";

/** One set of near-duplicates. */
export interface DuplicateGroup {
  /** The rows of the component, ascending; the first is the one kept (unless contaminated). */
  members: number[];
  /** Cosine similarity of each member to the first (1 for the first itself). */
  similarities: number[];
  /** Whether a member touches the reference set (the whole group is dropped). */
  contaminated: boolean;
}

/** What `dedupComponents` and `dedup` find. */
export interface DedupResult {
  /** Rows kept, ascending. */
  kept: Int32Array;
  /** Rows removed (duplicates of a kept row, or contaminated), ascending. */
  removed: Int32Array;
  /** Groups of more than one row and contaminated singletons, largest first (ties: first row). */
  groups: DuplicateGroup[];
  /** Rows closer than the threshold to a reference row (before spreading to their groups). */
  touching: Int32Array;
  /** Edges above the threshold between different rows (each pair counted once per direction). */
  edges: number;
}

/** Dot product of rows a and b of `matrix`. */
function rowDot(matrix: RowMatrix, a: number, b: number): number {
  const { data, dim } = matrix;
  let sum = 0;
  for (let d = 0; d < dim; d++) sum += data[a * dim + d] * data[b * dim + d];
  return sum;
}

/**
 * Components of the graph with an edge from each row to each neighbour more similar than
 * `threshold`, the kept row of each, and the groups (similarities from `embeddings`). `touching`
 * marks rows that touch the reference set: their components are dropped whole.
 */
export function dedupComponents(
  embeddings: RowMatrix,
  neighbours: KnnSearchResult,
  threshold: number,
  touching: ArrayLike<number> = [],
): DedupResult {
  const rows = embeddings.data.length / embeddings.dim;
  if (neighbours.indices.length !== rows * neighbours.k) {
    throw new ShapeError(
      `dedupComponents: ${neighbours.indices.length} neighbours for ${rows} rows x k ${neighbours.k}`,
    );
  }
  const sets = new UnionFind(rows);
  let edges = 0;
  for (let row = 0; row < rows; row++) {
    for (let j = 0; j < neighbours.k; j++) {
      const other = neighbours.indices[row * neighbours.k + j];
      if (other < 0 || other === row) continue;
      if (!(neighbours.similarities[row * neighbours.k + j] > threshold)) break; // sorted
      edges++;
      sets.union(row, other);
    }
  }
  const contaminatedRoots = new Set<number>();
  for (let i = 0; i < touching.length; i++) contaminatedRoots.add(sets.find(touching[i]));
  const groups: DuplicateGroup[] = [];
  const keep = new Uint8Array(rows).fill(1);
  const seen = new Set<number>();
  for (const members of sets.groups()) {
    const root = sets.find(members[0]);
    seen.add(root);
    const contaminated = contaminatedRoots.has(root);
    for (let i = contaminated ? 0 : 1; i < members.length; i++) keep[members[i]] = 0;
    const similarities = members.map((member) => rowDot(embeddings, members[0], member));
    groups.push({ members, similarities, contaminated });
  }
  for (const root of contaminatedRoots) {
    if (seen.has(root)) continue;
    keep[root] = 0; // a singleton touching the reference set
    groups.push({ members: [root], similarities: [1], contaminated: true });
  }
  groups.sort((a, b) => b.members.length - a.members.length || a.members[0] - b.members[0]);
  const kept: number[] = [];
  const removed: number[] = [];
  keep.forEach((flag, row) => (flag ? kept : removed).push(row));
  return {
    kept: Int32Array.from(kept),
    removed: Int32Array.from(removed),
    groups,
    touching: Int32Array.from(touching),
    edges,
  };
}

/** Options of `dedup`. */
export interface DedupOptions {
  /** Neighbours per row, the row itself included (DINOv2: 64; at most 64). */
  k?: number;
  /** Edge where the cosine similarity exceeds this (DINOv2: 0.6 on copy-detection features). */
  threshold?: number;
  /** Reference rows (a benchmark) whose near-duplicates are dropped with their components. */
  against?: RowMatrix;
  /** Similarity above which a row touches the reference set (DINOv2: 0.45). */
  againstThreshold?: number;
  /** Called with the stage and the rows done and the total. */
  onProgress?: (stage: "neighbours" | "against", done: number, total: number) => void;
}

/** Near-duplicate removal on L2-normalised embeddings (see the module doc). */
export async function dedup(
  embeddings: RowMatrix,
  options: DedupOptions = {},
): Promise<DedupResult> {
  const { k = 64, threshold = 0.6, againstThreshold = 0.45 } = options;
  for (const [name, value] of [["threshold", threshold], ["againstThreshold", againstThreshold]]) {
    if (!Number.isFinite(value as number)) {
      throw new ShapeError(`dedup: ${name} must be a finite number, got ${value}`);
    }
  }
  const neighbours = await knnSearch(embeddings, embeddings, {
    k,
    onProgress: (done, total) => options.onProgress?.("neighbours", done, total),
  });
  const touching: number[] = [];
  if (options.against) {
    const nearest = await knnSearch(embeddings, options.against, {
      k: 1,
      onProgress: (done, total) => options.onProgress?.("against", done, total),
    });
    nearest.similarities.forEach((similarity, row) => {
      if (similarity > againstThreshold) touching.push(row);
    });
  }
  return dedupComponents(embeddings, neighbours, threshold, touching);
}
