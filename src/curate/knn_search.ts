/**
 * Brute-force k nearest neighbours by cosine similarity on the GPU, for curation: every query row
 * against every bank row, k best per query (similarity descending, lowest bank row first on
 * ties). The bank is uploaded once in chunks that each fit a storage binding; queries go in
 * batches, each batch's similarity to one chunk is one matmul, and `knnTopK` of src/eval/knn.ts
 * keeps the running best (split into column ranges that stay under lavapipe's loop limit).
 * Rows are used as given: pass L2-normalised rows (as `curate embed` writes them) for cosines.
 * @module
 */
import { gpu } from "../gpu/device.ts";
import { ShapeError } from "../gpu/errors.ts";
import { knnTopK, MAX_KNN_K, trainChunkBounds } from "../eval/knn.ts";
import { matmul } from "../ops/matmul/forward.ts";
import { noGrad } from "../tensor/tape.ts";
import { readAll, Tensor, tensor } from "../tensor/tensor.ts";

/** Rows of one matrix, row-major. */
export interface RowMatrix {
  /** Values, `rows * dim` of them. */
  data: Float32Array;
  /** Row width. */
  dim: number;
}

/** Options of `knnSearch`. */
export interface KnnSearchOptions {
  /** Neighbours per query (1..`MAX_KNN_K`). */
  k: number;
  /** Query rows per similarity matrix (default 1024). */
  batchSize?: number;
  /** Bank rows per chunk (default: as many as a storage binding holds). */
  bankChunk?: number;
  /** Called after each query batch with the rows done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** The neighbours of every query row. */
export interface KnnSearchResult {
  /** Bank row of neighbour j of query i at `i * k + j`, best first; -1 past the bank's rows. */
  indices: Int32Array;
  /** Their similarities (-Infinity past the bank's rows). */
  similarities: Float32Array;
  /** Neighbours per query. */
  k: number;
}

function rowsOf(matrix: RowMatrix, what: string): number {
  const { data, dim } = matrix;
  if (!Number.isInteger(dim) || dim < 1 || data.length % dim !== 0) {
    throw new ShapeError(
      `knnSearch: the ${what} holds ${data.length} values, not a whole number of rows of ${dim}`,
    );
  }
  return data.length / dim;
}

/**
 * The `k` nearest bank rows of each query row by dot product (cosine for normalised rows), exact:
 * ties broken by the lower bank row, as a float64 brute force would (up to f32 rounding).
 */
export async function knnSearch(
  queries: RowMatrix,
  bank: RowMatrix,
  options: KnnSearchOptions,
): Promise<KnnSearchResult> {
  const { k } = options;
  const batchSize = options.batchSize ?? 1024;
  if (queries.dim !== bank.dim) {
    throw new ShapeError(
      `knnSearch: queries have ${queries.dim} values per row, the bank ${bank.dim}`,
    );
  }
  if (!Number.isInteger(k) || k < 1 || k > MAX_KNN_K) {
    throw new ShapeError(`knnSearch: k must be a whole number in 1..${MAX_KNN_K}, got ${k}`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new ShapeError(`knnSearch: batchSize must be a whole number >= 1, got ${batchSize}`);
  }
  const queryRows = rowsOf(queries, "queries");
  const bankRows = rowsOf(bank, "bank");
  const { dim } = bank;
  const indices = new Int32Array(queryRows * k).fill(-1);
  const similarities = new Float32Array(queryRows * k).fill(-Infinity);
  if (queryRows === 0 || bankRows === 0) return { indices, similarities, k };
  const limit = gpu().limits.maxStorageBufferBindingSize;
  const batch = Math.min(batchSize, queryRows);
  const chunk = Math.max(
    1,
    Math.min(
      options.bankChunk ?? Infinity,
      Math.floor(limit / (4 * dim)),
      Math.floor(limit / (4 * batch)),
    ),
  );
  const labels = tensor(new Int32Array(1), [1], "i32"); // no vote: labels are never read
  const chunks: { features: Tensor; offset: number }[] = [];
  try {
    for (const [start, end] of trainChunkBounds(bankRows, chunk)) {
      chunks.push({
        features: tensor(bank.data.subarray(start * dim, end * dim), [end - start, dim]),
        offset: start,
      });
    }
    for (let start = 0; start < queryRows; start += batch) {
      const end = Math.min(queryRows, start + batch);
      const rows = end - start;
      const found = noGrad(() => {
        const query = tensor(queries.data.subarray(start * dim, end * dim), [rows, dim]);
        const best = { values: Tensor.empty([rows, k]), indices: Tensor.empty([rows, k], "i32") };
        chunks.forEach((bankChunk, index) => {
          const similarity = matmul(query, bankChunk.features, { transposeB: true });
          knnTopK(similarity, labels, best, {
            k,
            columnOffset: bankChunk.offset,
            merge: index > 0,
          });
          similarity.dispose();
        });
        query.dispose();
        return best;
      });
      gpu().flush();
      const [values, rowsIndices] = await readAll([found.values, found.indices]);
      found.values.dispose();
      found.indices.dispose();
      similarities.set(values as Float32Array, start * k);
      indices.set(rowsIndices as Int32Array, start * k);
      options.onProgress?.(end, queryRows);
    }
  } finally {
    labels.dispose();
    for (const bankChunk of chunks) bankChunk.features.dispose();
  }
  for (let i = 0; i < indices.length; i++) {
    if (indices[i] < 0) similarities[i] = -Infinity;
  }
  return { indices, similarities, k };
}

/** Scales every row of `data` ([rows, dim]) to unit L2 norm in place (zero rows stay zero). */
export function normalizeRows(data: Float32Array, dim: number): Float32Array {
  for (let at = 0; at < data.length; at += dim) {
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += data[at + d] * data[at + d];
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let d = 0; d < dim; d++) data[at + d] *= scale;
  }
  return data;
}
