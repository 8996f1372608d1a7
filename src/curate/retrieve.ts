/**
 * Retrieval as DINOv2 augments curated data (appendix A): for each query image, its k nearest
 * images of a pool by cosine (k = 4, or 32 for small query sets); the union of the neighbours is
 * what is kept.
 * @module
 */
import { ShapeError } from "../gpu/errors.ts";
import { knnSearch, type KnnSearchResult, type RowMatrix } from "./knn_search.ts";

/** What `retrieve` returns. */
export interface RetrieveResult {
  /** Pool rows retrieved by at least one query, ascending. */
  rows: Int32Array;
  /** The neighbours of every query (pool rows and similarities). */
  neighbours: KnnSearchResult;
}

/** The `k` nearest pool rows of every query row and their union (see the module doc). */
export async function retrieve(
  pool: RowMatrix,
  queries: RowMatrix,
  options: { k?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<RetrieveResult> {
  const { k = 4 } = options;
  if (queries.data.length === 0) throw new ShapeError("retrieve: the query set is empty");
  if (pool.data.length === 0) throw new ShapeError("retrieve: the pool is empty");
  const neighbours = await knnSearch(queries, pool, { k, onProgress: options.onProgress });
  const seen = new Uint8Array(pool.data.length / pool.dim);
  for (const row of neighbours.indices) if (row >= 0) seen[row] = 1;
  const rows: number[] = [];
  seen.forEach((flag, row) => flag && rows.push(row));
  return { rows: Int32Array.from(rows), neighbours };
}
