// Weighted k-NN, one workgroup per test row (after DINO's eval_knn.py).
// Keeps the k best (similarity descending, train index ascending on ties) of each row of a
// similarity chunk [rows, columns], merged with the running best of earlier chunks when `merge`
// is 1; when `vote` is 1, thread 0 then votes (include/knn_rows.wgsl, with the bindings and the
// pieces eval/knn_nearest.wgsl, the kernel for k = 1, shares).
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

// #include "knn_rows.wgsl"

var<workgroup> thread_maxima: array<f32, WORKGROUP_SIZE>;
var<workgroup> row_floor: f32;
var<workgroup> pool_count: atomic<u32>;
var<workgroup> pool_total: u32;
var<workgroup> pool_values: array<f32, POOL_SIZE>;
var<workgroup> pool_indices: array<i32, POOL_SIZE>;

// This thread's list: `list_count` entries, best first; only candidates >= `list_floor` enter.
var<private> list_values: array<f32, MAX_K>;
var<private> list_indices: array<i32, MAX_K>;
var<private> list_count: u32;
var<private> list_floor: f32;

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
