/**
 * Weighted k-NN classification on the GPU, as DINO's `eval_knn.py`: features are L2-normalised,
 * the cosine similarity of a batch of test rows against every train row is one matmul, the k
 * nearest train rows of each test row are selected by `kernels/eval/knn_topk.wgsl` (one workgroup
 * per row; `kernels/eval/knn_nearest.wgsl` for k = 1), and each neighbour votes for its class with weight `exp(similarity / temperature)`. The
 * predictions of all batches stay on the GPU and are read back once.
 * @module
 */
import { gpu } from "../gpu/device.ts";
import { ShapeError } from "../gpu/errors.ts";
import { flatWorkgroups, LAVAPIPE_LOOP_LIMIT } from "../gpu/launch.ts";
import { matmul } from "../ops/matmul/forward.ts";
import { l2Normalize } from "../ops/reduction/forward.ts";
import { noGrad } from "../tensor/tape.ts";
import { formatShape, readAll, Tensor, tensor } from "../tensor/tensor.ts";

/** Largest k the top-k kernel supports. */
export const MAX_KNN_K = 64;

/** Workgroup size of the top-k kernel (a power of two, at least `MAX_KNN_K`). */
const TOPK_WORKGROUP_SIZE = 64;

/** Entries of the top-k kernel's merge pool (a power of two). */
const TOPK_POOL_SIZE = 512;

/** Features and labels of one split. */
export interface LabelledFeatures {
  /** Features [n, dim]: a host array (row-major, `dim` given) or an f32 tensor [n, dim]. */
  features: Float32Array | Tensor;
  /** Feature dimension; required for a host array, checked for a tensor. */
  dim?: number;
  /** One class index per row. */
  labels: ArrayLike<number>;
}

/** Options of `knnClassify`. */
export interface KnnOptions {
  /** Neighbours that vote (default 20, at most `MAX_KNN_K`). */
  k?: number;
  /** Temperature of the vote weights `exp(similarity / temperature)` (default 0.07). */
  temperature?: number;
  /** Test rows per similarity matrix (default 256). */
  batchSize?: number;
  /** Number of classes (default: 1 + the largest label). */
  classes?: number;
  /** Train rows per similarity chunk (default: as many as the device's binding limit allows). */
  trainChunk?: number;
  /** Called after each test batch with the rows done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** What `knnClassify` returns. */
export interface KnnResult {
  /** Top-1 accuracy in [0, 1]. */
  top1: number;
  /** Top-5 accuracy in [0, 1] (top-min(5, k, classes), as DINO). */
  top5: number;
  /** Ranked predicted classes [test rows, predictionsPerRow]. */
  predictions: Int32Array;
  /** Classes predicted per row: min(5, k, classes). */
  predictionsPerRow: number;
}

/** The k nearest train rows of a batch of test rows and the predicted classes. */
export interface KnnNeighbours {
  /** Similarities of the neighbours [rows, k], best first (f32). */
  values: Tensor;
  /** Train row indices of the neighbours [rows, k] (i32; -1 where fewer than k train rows). */
  indices: Tensor;
}

function rowsAndDim(split: LabelledFeatures, what: string): { rows: number; dim: number } {
  const { features } = split;
  if (features instanceof Tensor) {
    if (features.rank !== 2 || features.dtype !== "f32") {
      throw new ShapeError(
        `knnClassify: ${what} features must be f32 [n, dim], got ${features.describe()}`,
      );
    }
    if (split.dim !== undefined && split.dim !== features.shape[1]) {
      throw new ShapeError(
        `knnClassify: ${what} dim ${split.dim} differs from its features ${
          formatShape(features.shape)
        }`,
      );
    }
    return { rows: features.shape[0], dim: features.shape[1] };
  }
  const dim = split.dim;
  if (dim === undefined || !Number.isInteger(dim) || dim < 1 || features.length % dim !== 0) {
    throw new ShapeError(
      `knnClassify: ${what} features hold ${features.length} values, not a whole number of rows ` +
        `of dim ${dim}`,
    );
  }
  return { rows: features.length / dim, dim };
}

/** Rows [start, end) of a split's features as a new f32 tensor (upload or GPU copy). */
function rowsTensor(split: LabelledFeatures, dim: number, start: number, end: number): Tensor {
  const { features } = split;
  if (features instanceof Tensor) {
    const result = Tensor.empty([end - start, dim]);
    const bytes = (end - start) * dim * 4;
    if (bytes > 0) gpu().copy(features.buffer, start * dim * 4, result.buffer, 0, bytes);
    return result;
  }
  return tensor(features.subarray(start * dim, end * dim), [end - start, dim]);
}

/**
 * Train-row ranges of the similarity chunks: at most `chunk` rows each and a multiple of 4 rows
 * (the vec4 and subgroup matmul kernels need it; a 60000 x 784 bank split at the binding limit
 * into 42799 + 17201 rows fell to the tiled kernel, 10x slower), the last < 4 rows on their own.
 */
export function trainChunkBounds(rows: number, chunk: number): [number, number][] {
  const size = chunk >= 4 ? chunk - chunk % 4 : chunk;
  const bounds: [number, number][] = [];
  let start = 0;
  while (start < rows) {
    let end = Math.min(rows, start + size);
    if (end - start >= 4) end -= (end - start) % 4;
    bounds.push([start, end]);
    start = end;
  }
  return bounds;
}

/**
 * Loop passes of `sort_pool` in `kernels/eval/knn_topk.wgsl` for a pool of `size` entries (a power
 * of two), as lavapipe counts them: the block loop, the stride loop of each block and the pair loop
 * of each stage, each with the pass that exits.
 */
function bitonicLoopPasses(size: number, workgroupSize: number): number {
  const bits = Math.log2(size);
  const stages = (bits * (bits + 1)) / 2;
  const strideLoops = stages + bits;
  const pairLoops = stages * (Math.ceil(size / 2 / workgroupSize) + 1);
  return bits + 1 + strideLoops + pairLoops;
}

/**
 * Columns one top-k dispatch may read so that no invocation of `kernels/eval/knn_topk.wgsl`
 * passes `LAVAPIPE_LOOP_LIMIT` loop iterations, counted as lavapipe does (every pass through a
 * loop body, the last one that exits included) in the worst case: every column passes the floor
 * and is inserted at the top of its thread's list (k loop passes per offer). Per vec4 load of a
 * thread: one pass of the maximum loop, one of the list loop and 4 offers; besides: the exits of
 * those two loops, the rank loop over the threads' maxima, 3 offers (a kept neighbour of earlier
 * dispatches, a column before the first whole vec4, one after the last), the costlier of the two
 * merges (gathering the list and sorting the pool, or k argmax rounds), the write loop and, when
 * `votePerRow` is given, thread 0's vote; then a margin of 256. A multiple of 256 columns (each
 * thread's vec4 loads times 4 columns times the workgroup size). The k = 1 kernel
 * (`kernels/eval/knn_nearest.wgsl`) loops less: per vec4 load one pass of its column loop and 5 of
 * the loop over its components (6 = 2 + 4 k), besides the argmax and the vote, which knn_topk's
 * fixed count exceeds.
 */
export function topKColumnsPerDispatch(k: number, votePerRow?: number): number {
  const w = votePerRow ?? 0;
  const threads = TOPK_WORKGROUP_SIZE;
  const offer = k;
  const rank = threads + 1;
  const sortMerge = (k + 1) + (TOPK_POOL_SIZE / threads + 1) +
    bitonicLoopPasses(TOPK_POOL_SIZE, threads) + (Math.ceil(k / threads) + 1);
  const roundsMerge = (k + 1) + k * (Math.log2(threads) + 1);
  const write = Math.ceil(k / threads) + 1;
  const vote = w > 0 ? (w + 1) + w * ((k + 1) + k * (w + k + 2)) + w * (w + 2) ** 2 : 0;
  const fixed = 2 + rank + 3 * offer + Math.max(sortMerge, roundsMerge) + write + vote;
  const loadsPerThread = Math.floor((LAVAPIPE_LOOP_LIMIT - 256 - fixed) / (2 + 4 * offer));
  return 4 * threads * loadsPerThread;
}

/**
 * Runs the top-k kernel on one similarity chunk [rows, columns] whose column 0 is train row
 * `columnOffset`, merging into `neighbours` when `merge` and voting into `predictions` (row
 * `predictionOffset` onwards) when `vote`. The chunk is read in column ranges of
 * `topKColumnsPerDispatch` columns, one dispatch each; k = 1 runs `kernels/eval/knn_nearest.wgsl`
 * (a best per thread and one argmax), larger k `kernels/eval/knn_topk.wgsl`. The kernels read the
 * similarity as vec4s: its buffer must hold whole vec4s (pooled tensors' buffers do). NaN similarities are never
 * neighbours. Used by `knnClassify`, `knnSearch` and `kmeans`; exposed for tests.
 */
export function knnTopK(
  similarity: Tensor,
  trainLabels: Tensor,
  neighbours: KnnNeighbours,
  options: {
    k: number;
    columnOffset: number;
    merge: boolean;
    vote?: {
      predictions: Tensor;
      offset: number;
      perRow: number;
      classes: number;
      temperature: number;
    };
  },
): void {
  const [rows, columns] = similarity.shape;
  const { k, vote } = options;
  if (!Number.isInteger(k) || k < 1 || k > MAX_KNN_K) {
    throw new ShapeError(`knnTopK: k must be a whole number in 1..${MAX_KNN_K}, got ${k}`);
  }
  if (neighbours.values.size !== rows * k || neighbours.indices.size !== rows * k) {
    throw new ShapeError(
      `knnTopK: neighbour buffers ${neighbours.values.describe()} and ` +
        `${neighbours.indices.describe()} do not hold [${rows}, ${k}]`,
    );
  }
  if (trainLabels.dtype !== "i32") {
    throw new ShapeError(`knnTopK: train labels must be i32, got ${trainLabels.describe()}`);
  }
  const plain = topKColumnsPerDispatch(k);
  const voting = vote ? topKColumnsPerDispatch(k, vote.perRow) : plain;
  // The last range votes, so it is the one bounded by the vote's budget.
  const ranges: [number, number][] = [];
  let end = columns;
  do {
    const begin = Math.max(0, end - (ranges.length === 0 ? voting : plain));
    ranges.unshift([begin, end]);
    end = begin;
  } while (end > 0);
  ranges.forEach(([begin, rangeEnd], index) => {
    const last = index === ranges.length - 1;
    const words = new Uint32Array(12);
    words[0] = rows;
    words[1] = columns;
    words[2] = k;
    words[3] = options.columnOffset;
    words[4] = options.merge || index > 0 ? 1 : 0;
    words[5] = vote && last ? 1 : 0;
    new Float32Array(words.buffer, 24, 1)[0] = vote ? 1 / vote.temperature : 1;
    words[7] = vote?.offset ?? 0;
    words[8] = vote?.perRow ?? 1;
    words[9] = vote?.classes ?? 1;
    words[10] = begin;
    words[11] = rangeEnd;
    gpu().dispatch({
      ...(k === 1
        ? { kernel: "eval/knn_nearest", constants: { WORKGROUP_SIZE: TOPK_WORKGROUP_SIZE } }
        : {
          kernel: "eval/knn_topk",
          constants: { WORKGROUP_SIZE: TOPK_WORKGROUP_SIZE, POOL_SIZE: TOPK_POOL_SIZE },
        }),
      buffers: [
        similarity.buffer,
        trainLabels.buffer,
        neighbours.values.buffer,
        neighbours.indices.buffer,
        (vote?.predictions ?? neighbours.indices).buffer,
      ],
      params: words,
      workgroups: flatWorkgroups(rows, 1),
    });
  });
}

/**
 * Weighted k-NN accuracy of `test` against `train` (DINO's protocol: cosine similarity, k = 20,
 * votes `exp(similarity / 0.07)`). Batched over test rows and chunked over train rows so every
 * similarity matrix fits a storage binding; one readback in all.
 */
export async function knnClassify(
  train: LabelledFeatures,
  test: LabelledFeatures,
  options: KnnOptions = {},
): Promise<KnnResult> {
  const { k = 20, temperature = 0.07, batchSize = 256 } = options;
  const trainShape = rowsAndDim(train, "train");
  const testShape = rowsAndDim(test, "test");
  if (trainShape.dim !== testShape.dim) {
    throw new ShapeError(
      `knnClassify: feature dims differ: train [${trainShape.rows}, ${trainShape.dim}] vs test ` +
        `[${testShape.rows}, ${testShape.dim}] (${trainShape.dim} vs ${testShape.dim})`,
    );
  }
  if (train.labels.length !== trainShape.rows || test.labels.length !== testShape.rows) {
    throw new ShapeError(
      `knnClassify: ${train.labels.length} train labels for ${trainShape.rows} rows, ` +
        `${test.labels.length} test labels for ${testShape.rows} rows`,
    );
  }
  if (!Number.isInteger(k) || k < 1 || k > MAX_KNN_K) {
    throw new ShapeError(`knnClassify: k must be a whole number in 1..${MAX_KNN_K}, got ${k}`);
  }
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new ShapeError(
      `knnClassify: temperature must be a finite number > 0, got ${temperature}`,
    );
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new ShapeError(`knnClassify: batchSize must be a whole number >= 1, got ${batchSize}`);
  }
  if (trainShape.rows === 0) throw new ShapeError("knnClassify: the train split is empty");
  let largest = -1;
  for (const labels of [train.labels, test.labels]) {
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i];
      if (!Number.isInteger(label) || label < 0) {
        throw new ShapeError(`knnClassify: label ${label} at row ${i} is not a class index >= 0`);
      }
      largest = Math.max(largest, label);
    }
  }
  const classes = options.classes ?? largest + 1;
  if (largest >= classes) {
    throw new ShapeError(`knnClassify: label ${largest} outside [0, ${classes})`);
  }
  const { dim } = trainShape;
  const total = testShape.rows;
  const perRow = Math.min(5, k, classes);
  const limit = gpu().limits.maxStorageBufferBindingSize;
  const batch = Math.min(batchSize, Math.max(total, 1));
  const chunk = Math.max(
    1,
    Math.min(
      options.trainChunk ?? Infinity,
      trainShape.rows,
      Math.floor(limit / (4 * dim)),
      Math.floor(limit / (4 * batch)),
    ),
  );
  const predictions = Tensor.empty([Math.max(total, 1), perRow], "i32", "knn predictions");
  const trainLabels = tensor(Int32Array.from(train.labels), [trainShape.rows], "i32");
  const trainChunks: { features: Tensor; offset: number }[] = [];
  try {
    noGrad(() => {
      for (const [start, end] of trainChunkBounds(trainShape.rows, chunk)) {
        const raw = rowsTensor(train, dim, start, end);
        trainChunks.push({ features: l2Normalize(raw), offset: start });
        raw.dispose();
      }
    });
    for (let start = 0; start < total; start += batch) {
      const end = Math.min(total, start + batch);
      const rows = end - start;
      noGrad(() => {
        const raw = rowsTensor(test, dim, start, end);
        const normalised = l2Normalize(raw);
        raw.dispose();
        const neighbours: KnnNeighbours = {
          values: Tensor.empty([rows, k]),
          indices: Tensor.empty([rows, k], "i32"),
        };
        trainChunks.forEach((trainChunk, index) => {
          const similarity = matmul(normalised, trainChunk.features, { transposeB: true });
          knnTopK(similarity, trainLabels, neighbours, {
            k,
            columnOffset: trainChunk.offset,
            merge: index > 0,
            vote: index === trainChunks.length - 1
              ? { predictions, offset: start, perRow, classes, temperature }
              : undefined,
          });
          similarity.dispose();
        });
        for (const t of [normalised, neighbours.values, neighbours.indices]) t.dispose();
      });
      gpu().flush();
      options.onProgress?.(end, total);
    }
    const [read] = await readAll([predictions]);
    const predicted = (read as Int32Array).slice(0, total * perRow);
    let top1 = 0;
    let top5 = 0;
    for (let row = 0; row < total; row++) {
      const label = test.labels[row];
      if (predicted[row * perRow] === label) top1++;
      for (let p = 0; p < perRow; p++) {
        if (predicted[row * perRow + p] === label) {
          top5++;
          break;
        }
      }
    }
    return {
      top1: total > 0 ? top1 / total : 0,
      top5: total > 0 ? top5 / total : 0,
      predictions: predicted,
      predictionsPerRow: perRow,
    };
  } finally {
    predictions.dispose();
    trainLabels.dispose();
    for (const trainChunk of trainChunks) trainChunk.features.dispose();
  }
}
