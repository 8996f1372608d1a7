// Weighted k-NN, one workgroup per test row (after DINO's eval_knn.py).
// Keeps the k best (similarity descending, train index ascending on ties) of each row of a
// similarity chunk [rows, columns], merged with the running best of earlier chunks when `merge`
// is 1. When `vote` is 1, thread 0 then votes: each neighbour adds exp((s - s_max) / T) to its
// class (the common factor exp(s_max / T) does not change the ranking) and the
// `predictions_per_row` best classes (votes descending, class ascending on ties; classes with no
// vote fill up in class order) are written to row `prediction_offset + row` of `predictions`.
//
// Three steps:
// 1. A floor: each thread takes the maximum of its strided columns. With WORKGROUP_SIZE >= k
//    threads the k-th largest of those maxima (each a real column value, or -inf for a thread
//    without one) is a lower bound on the row's k-th best similarity; so is the k-th kept
//    neighbour of earlier chunks when `merge` is 1. The floor is the larger of the two.
// 2. Each thread keeps a sorted private list of its columns whose similarity is >= the floor
//    (>=, so that a column tied with the k-th best and of lower index still gets in), raising its
//    own floor to its list's k-th value once the list is full. Almost every column costs one
//    comparison. Columns are read 4 at a time (vec4) where the row's memory alignment allows,
//    the 0..3 columns at either end of the range one at a time: `similarity` is bound as vec4s,
//    so its buffer must hold whole vec4s (pooled buffers do).
// 3. A merge of the lists: when they hold at most POOL_SIZE entries in all, they are gathered in
//    workgroup memory and sorted by a bitonic sort (padded to a power of two) and the first k
//    taken; otherwise, and when k rounds cost fewer barriers than the sort (small k), k rounds of
//    a workgroup argmax in which the best head among the lists wins and its thread advances.
// NaN similarities never enter a list: every test is a comparison that is false for NaN
// (`v >= floor`, `a > b || (a == b && ...)`); lavapipe evaluates `v != v` as false for NaN.
//
// One dispatch reads columns [column_begin, column_end) of the chunk: lavapipe silently ends an
// invocation after 65,535 loop iterations in all, so the host splits a chunk into column ranges
// that keep every invocation under that count in the worst case (every column >= the floor and
// inserted at the top of its list; `topKColumnsPerDispatch` in src/eval/knn.ts counts the loops
// below, and must be updated with them).

override WORKGROUP_SIZE: u32 = 64u;
// Entries of the merge pool (a power of two).
override POOL_SIZE: u32 = 512u;
const MAX_K: u32 = 64u;
const MAX_PREDICTIONS: u32 = 5u;
const LOWEST: f32 = -3.0e38;

// #include "row_group.wgsl"

struct Params {
  rows: u32, columns: u32, k: u32,
  column_offset: u32,
  merge: u32, vote: u32,
  inverse_temperature: f32,
  prediction_offset: u32, predictions_per_row: u32,
  classes: u32,
  column_begin: u32, column_end: u32,
}

@group(0) @binding(0) var<storage, read> similarity: array<vec4f>;
@group(0) @binding(1) var<storage, read> train_labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> best_values: array<f32>;
@group(0) @binding(3) var<storage, read_write> best_indices: array<i32>;
@group(0) @binding(4) var<storage, read_write> predictions: array<i32>;
@group(1) @binding(0) var<uniform> params: Params;

var<workgroup> thread_maxima: array<f32, WORKGROUP_SIZE>;
var<workgroup> row_floor: f32;
var<workgroup> pool_count: atomic<u32>;
var<workgroup> pool_total: u32;
var<workgroup> pool_values: array<f32, POOL_SIZE>;
var<workgroup> pool_indices: array<i32, POOL_SIZE>;
var<workgroup> candidate_values: array<f32, WORKGROUP_SIZE>;
var<workgroup> candidate_indices: array<i32, WORKGROUP_SIZE>;
var<workgroup> candidate_threads: array<u32, WORKGROUP_SIZE>;
var<workgroup> result_values: array<f32, MAX_K>;
var<workgroup> result_indices: array<i32, MAX_K>;

// This thread's list: `list_count` entries, best first; only candidates >= `list_floor` enter.
var<private> list_values: array<f32, MAX_K>;
var<private> list_indices: array<i32, MAX_K>;
var<private> list_count: u32;
var<private> list_floor: f32;

// Whether (value_a, index_a) ranks before (value_b, index_b); index < 0 marks an empty slot.
fn better(value_a: f32, index_a: i32, value_b: f32, index_b: i32) -> bool {
  if (index_b < 0) {
    return index_a >= 0;
  }
  if (index_a < 0) {
    return false;
  }
  return value_a > value_b || (value_a == value_b && index_a < index_b);
}

// Similarity at flat position `at` of the [rows, columns] chunk.
fn similarity_at(at: u32) -> f32 {
  return similarity[at / 4u][at % 4u];
}

// The columns [column_begin, column_end) of `row` in three parts: up to 3 columns
// [begin, vector_begin), whole vec4s [vector_begin, vector_end) (vec4 indices
// [first_vector, last_vector) of `similarity`) and up to 3 columns [vector_end, end).
struct ColumnRange {
  base: u32, // flat position of the row's column 0
  begin: u32,
  vector_end: u32,
  first_vector: u32,
  last_vector: u32,
  head_columns: u32,
  tail_columns: u32,
}

fn columns_of(row: u32) -> ColumnRange {
  let begin = params.column_begin;
  let end = params.column_end;
  let base = row * params.columns;
  let vector_begin = min(end, begin + (4u - (base + begin) % 4u) % 4u);
  let vector_end = vector_begin + (end - vector_begin) / 4u * 4u;
  return ColumnRange(
    base,
    begin,
    vector_end,
    (base + vector_begin) / 4u,
    (base + vector_end) / 4u,
    vector_begin - begin,
    end - vector_end,
  );
}

// Offers column `index` of similarity `value` (index >= 0) to this thread's list of the k best.
// Loops at most k times (k - 1 shifts and the pass that exits).
fn offer(value: f32, index: i32, k: u32) {
  if (value >= list_floor) {
    if (list_count < k ||
      better(value, index, list_values[list_count - 1u], list_indices[list_count - 1u])) {
      var position = min(list_count, k - 1u);
      while (position > 0u &&
        better(value, index, list_values[position - 1u], list_indices[position - 1u])) {
        list_values[position] = list_values[position - 1u];
        list_indices[position] = list_indices[position - 1u];
        position = position - 1u;
      }
      list_values[position] = value;
      list_indices[position] = index;
      list_count = min(list_count + 1u, k);
      if (list_count == k && list_values[k - 1u] > list_floor) {
        list_floor = list_values[k - 1u];
      }
    }
  }
}

// Sorts pool entries [0, size) best first (`better`), size a power of two <= POOL_SIZE.
fn sort_pool(local: u32, size: u32) {
  for (var block = 2u; block <= size; block = block * 2u) {
    for (var stride = block / 2u; stride > 0u; stride = stride / 2u) {
      for (var pair = local; pair < size / 2u; pair = pair + WORKGROUP_SIZE) {
        let i = 2u * pair - (pair & (stride - 1u));
        let j = i + stride;
        let value_i = pool_values[i];
        let index_i = pool_indices[i];
        let value_j = pool_values[j];
        let index_j = pool_indices[j];
        // Blocks with bit `block` clear sort best first, the others worst first.
        let swap = select(
          better(value_i, index_i, value_j, index_j),
          better(value_j, index_j, value_i, index_i),
          (i & block) == 0u,
        );
        if (swap) {
          pool_values[i] = value_j;
          pool_indices[i] = index_j;
          pool_values[j] = value_i;
          pool_indices[j] = index_i;
        }
      }
      workgroupBarrier();
    }
  }
}

// The best (`better`) of every thread's candidate (value, index), and its thread, in slot 0 of the
// candidate arrays: each thread writes its slot, then a tree reduction, one barrier a level.
fn reduce_candidates(local: u32, value: f32, index: i32) {
  candidate_values[local] = value;
  candidate_indices[local] = index;
  candidate_threads[local] = local;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
    if (local < stride) {
      let other = local + stride;
      if (better(
        candidate_values[other],
        candidate_indices[other],
        candidate_values[local],
        candidate_indices[local],
      )) {
        candidate_values[local] = candidate_values[other];
        candidate_indices[local] = candidate_indices[other];
        candidate_threads[local] = candidate_threads[other];
      }
    }
    workgroupBarrier();
  }
}

// Thread 0's vote over the k neighbours in result_values / result_indices (see the top).
fn vote_predictions(row: u32, k: u32) {
  let top = result_values[0];
  var chosen: array<i32, MAX_PREDICTIONS>;
  let wanted = min(params.predictions_per_row, MAX_PREDICTIONS);
  for (var p = 0u; p < wanted; p = p + 1u) {
    var best_class = -1;
    var best_vote = 0.0;
    for (var j = 0u; j < k; j = j + 1u) {
      if (result_indices[j] < 0) {
        continue;
      }
      let label = train_labels[result_indices[j]];
      var taken = false;
      for (var q = 0u; q < p; q = q + 1u) {
        taken = taken || chosen[q] == label;
      }
      if (taken) {
        continue;
      }
      var vote = 0.0;
      for (var m = 0u; m < k; m = m + 1u) {
        if (result_indices[m] >= 0 && train_labels[result_indices[m]] == label) {
          vote = vote + exp((result_values[m] - top) * params.inverse_temperature);
        }
      }
      if (best_class < 0 || vote > best_vote || (vote == best_vote && label < best_class)) {
        best_class = label;
        best_vote = vote;
      }
    }
    if (best_class < 0) {
      // No neighbour left with an unchosen class: the lowest unchosen class (zero votes).
      for (var c = 0; c < i32(params.classes); c = c + 1) {
        var taken = false;
        for (var q = 0u; q < p; q = q + 1u) {
          taken = taken || chosen[q] == c;
        }
        if (!taken) {
          best_class = c;
          break;
        }
      }
    }
    chosen[p] = best_class;
    predictions[(params.prediction_offset + row) * params.predictions_per_row + p] = best_class;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(at: RowGroup, @builtin(local_invocation_index) local: u32) {
  let row = group_row(at);
  if (row >= params.rows) {
    return;
  }
  let k = min(params.k, MAX_K);
  let negative_infinity = bitcast<f32>(0xff800000u);
  list_count = 0u;

  let range = columns_of(row);

  // 1. The floor: the k-th largest of the threads' maxima (`>` keeps NaN out; a thread without
  // a column, or with NaN alone, keeps -inf).
  var maxima = vec4f(negative_infinity);
  for (var v = range.first_vector + local; v < range.last_vector; v = v + WORKGROUP_SIZE) {
    let values = similarity[v];
    maxima = select(maxima, values, values > maxima);
  }
  let lower = select(maxima.y, maxima.x, maxima.x > maxima.y);
  let upper = select(maxima.w, maxima.z, maxima.z > maxima.w);
  var maximum = select(lower, upper, upper > lower);
  if (local < range.head_columns) {
    let value = similarity_at(range.base + range.begin + local);
    maximum = select(maximum, value, value > maximum);
  }
  if (local < range.tail_columns) {
    let value = similarity_at(range.base + range.vector_end + local);
    maximum = select(maximum, value, value > maximum);
  }
  thread_maxima[local] = maximum;
  if (local == 0u) {
    atomicStore(&pool_count, 0u);
  }
  workgroupBarrier();
  // The thread whose maximum ranks k-th (ties by thread) publishes it.
  var rank = 0u;
  for (var other = 0u; other < WORKGROUP_SIZE; other = other + 1u) {
    let value = thread_maxima[other];
    rank = rank + select(0u, 1u, value > maximum || (value == maximum && other < local));
  }
  if (rank == k - 1u) {
    row_floor = maximum;
  }
  workgroupBarrier();
  list_floor = row_floor;

  // 2. The lists: the running best of earlier chunks (one entry per thread), then the columns.
  if (params.merge == 1u) {
    let last_kept = row * k + k - 1u;
    if (best_indices[last_kept] >= 0 && best_values[last_kept] > list_floor) {
      list_floor = best_values[last_kept];
    }
    if (local < k && best_indices[row * k + local] >= 0) {
      offer(best_values[row * k + local], best_indices[row * k + local], k);
    }
  }
  // Column c of the chunk is train row column_offset + c; flat position range.base + c.
  let first_index = i32(params.column_offset) - i32(range.base);
  if (local < range.head_columns) {
    let at_column = range.base + range.begin + local;
    offer(similarity_at(at_column), first_index + i32(at_column), k);
  }
  for (var v = range.first_vector + local; v < range.last_vector; v = v + WORKGROUP_SIZE) {
    let values = similarity[v];
    if (any(values >= vec4f(list_floor))) {
      let index = first_index + i32(4u * v);
      offer(values.x, index, k);
      offer(values.y, index + 1, k);
      offer(values.z, index + 2, k);
      offer(values.w, index + 3, k);
    }
  }
  if (local < range.tail_columns) {
    let at_column = range.base + range.vector_end + local;
    offer(similarity_at(at_column), first_index + i32(at_column), k);
  }

  // 3. The merge.
  let offset = atomicAdd(&pool_count, list_count);
  workgroupBarrier();
  if (local == 0u) {
    pool_total = atomicLoad(&pool_count);
  }
  let total = workgroupUniformLoad(&pool_total);
  // A bitonic sort of 2^b entries takes b (b + 1) / 2 barriers, k rounds k (log2(WORKGROUP_SIZE) + 1).
  let bits = 32u - countLeadingZeros(max(total, 2u) - 1u);
  let size = 1u << bits;
  let rounds_barriers = k * (32u - countLeadingZeros(WORKGROUP_SIZE));
  if (total <= POOL_SIZE && bits * (bits + 1u) / 2u < rounds_barriers) {
    for (var i = 0u; i < list_count; i = i + 1u) {
      pool_values[offset + i] = list_values[i];
      pool_indices[offset + i] = list_indices[i];
    }
    for (var j = total + local; j < size; j = j + WORKGROUP_SIZE) {
      pool_values[j] = LOWEST;
      pool_indices[j] = -1;
    }
    workgroupBarrier();
    sort_pool(local, size);
    for (var j = local; j < k; j = j + WORKGROUP_SIZE) {
      if (j < total) {
        result_values[j] = pool_values[j];
        result_indices[j] = pool_indices[j];
      } else {
        result_values[j] = LOWEST;
        result_indices[j] = -1;
      }
    }
  } else {
    // k rounds: the best head among the threads' lists wins and its thread advances.
    var head = 0u;
    for (var round = 0u; round < k; round = round + 1u) {
      var value = LOWEST;
      var index = -1;
      if (head < list_count) {
        value = list_values[head];
        index = list_indices[head];
      }
      reduce_candidates(local, value, index);
      if (local == 0u) {
        result_values[round] = candidate_values[0];
        result_indices[round] = candidate_indices[0];
      }
      if (local == candidate_threads[0] && head < list_count) {
        head = head + 1u;
      }
      workgroupBarrier();
    }
  }
  workgroupBarrier();

  for (var j = local; j < k; j = j + WORKGROUP_SIZE) {
    best_values[row * k + j] = result_values[j];
    best_indices[row * k + j] = result_indices[j];
  }

  if (params.vote == 1u && local == 0u) {
    vote_predictions(row, k);
  }
}

// `nearest`'s step: column `index` of similarity `value` replaces this thread's best
// (*best_value, *best_index) if it ranks before it (`better`); NaN never does (`>=` is false).
fn keep_better(
  best_value: ptr<function, f32>,
  best_index: ptr<function, i32>,
  value: f32,
  index: i32,
) {
  if (value >= bitcast<f32>(0xff800000u) && better(value, index, *best_value, *best_index)) {
    *best_value = value;
    *best_index = index;
  }
}

// The entry point for k = 1 (k-means assignment, nearest-neighbour search): each thread keeps the
// best of its columns (one comparison a vec4 for most), then one workgroup argmax; no floor pass
// and no lists. Same results as `main` with k = 1 (ties to the lower index, NaN never).
@compute @workgroup_size(WORKGROUP_SIZE)
fn nearest(at: RowGroup, @builtin(local_invocation_index) local: u32) {
  let row = group_row(at);
  if (row >= params.rows) {
    return;
  }
  let range = columns_of(row);
  let first_index = i32(params.column_offset) - i32(range.base);
  var value = LOWEST;
  var index = -1;
  if (params.merge == 1u && local == 0u && best_indices[row] >= 0) {
    value = best_values[row];
    index = best_indices[row];
  }
  if (local < range.head_columns) {
    let at_column = range.base + range.begin + local;
    keep_better(&value, &index, similarity_at(at_column), first_index + i32(at_column));
  }
  for (var v = range.first_vector + local; v < range.last_vector; v = v + WORKGROUP_SIZE) {
    let values = similarity[v];
    // An empty best takes any number, -inf included (as `main`'s floor of -inf does).
    let threshold = select(value, bitcast<f32>(0xff800000u), index < 0);
    if (any(values >= vec4f(threshold))) {
      let column = first_index + i32(4u * v);
      for (var c = 0u; c < 4u; c = c + 1u) {
        keep_better(&value, &index, values[c], column + i32(c));
      }
    }
  }
  if (local < range.tail_columns) {
    let at_column = range.base + range.vector_end + local;
    keep_better(&value, &index, similarity_at(at_column), first_index + i32(at_column));
  }
  reduce_candidates(local, value, index);
  if (local == 0u) {
    best_values[row] = candidate_values[0];
    best_indices[row] = candidate_indices[0];
    result_values[0] = candidate_values[0];
    result_indices[0] = candidate_indices[0];
    if (params.vote == 1u) {
      vote_predictions(row, 1u);
    }
  }
}
