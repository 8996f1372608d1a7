// The k-NN for k = 1 (k-means assignment, nearest-neighbour search), one workgroup per test row:
// each thread keeps the best of its columns (one comparison a vec4 for most), then one workgroup
// argmax; no floor pass and no lists. The same results as eval/knn_topk.wgsl with k = 1 (ties to
// the lower index, NaN never a neighbour, -inf one), the same bindings, merge and vote
// (include/knn_rows.wgsl). It loops less than knn_topk.wgsl, whose column ranges the host uses.

override WORKGROUP_SIZE: u32 = 64u;

// #include "knn_rows.wgsl"

// A thread's step: column `index` of similarity `value` replaces this thread's best
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

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(at: RowGroup, @builtin(local_invocation_index) local: u32) {
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
