// Weighted k-NN, one workgroup per test row (after DINO's eval_knn.py).
// Keeps the k best (similarity descending, train index ascending on ties) of each row of a
// similarity chunk [rows, columns], merged with the running best of earlier chunks when `merge`
// is 1. When `vote` is 1, thread 0 then votes: each neighbour adds exp((s - s_max) / T) to its
// class (the common factor exp(s_max / T) does not change the ranking) and the
// `predictions_per_row` best classes (votes descending, class ascending on ties; classes with no
// vote fill up in class order) are written to row `prediction_offset + row` of `predictions`.
// Each thread first keeps a sorted private list of its strided columns; the lists are merged in
// k rounds of a workgroup argmax. One dispatch reads columns [column_begin, column_end) of the
// chunk: lavapipe silently ends an invocation after 65,535 loop iterations in all, so the host
// splits a chunk into column ranges that keep every invocation under that count
// (`topKColumnsPerDispatch` in src/eval/knn.ts).

override WORKGROUP_SIZE: u32 = 64u;
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

@group(0) @binding(0) var<storage, read> similarity: array<f32>;
@group(0) @binding(1) var<storage, read> train_labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> best_values: array<f32>;
@group(0) @binding(3) var<storage, read_write> best_indices: array<i32>;
@group(0) @binding(4) var<storage, read_write> predictions: array<i32>;
@group(1) @binding(0) var<uniform> params: Params;

var<workgroup> candidate_values: array<f32, WORKGROUP_SIZE>;
var<workgroup> candidate_indices: array<i32, WORKGROUP_SIZE>;
var<workgroup> candidate_threads: array<u32, WORKGROUP_SIZE>;
var<workgroup> result_values: array<f32, MAX_K>;
var<workgroup> result_indices: array<i32, MAX_K>;

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

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(at: RowGroup, @builtin(local_invocation_index) local: u32) {
  let row = group_row(at);
  if (row >= params.rows) {
    return;
  }
  let k = min(params.k, MAX_K);
  var local_values: array<f32, MAX_K>;
  var local_indices: array<i32, MAX_K>;
  var count = 0u;

  // Candidates: the running best of earlier chunks, then this chunk's columns.
  let kept = select(0u, k, params.merge == 1u);
  let total = kept + params.column_end - params.column_begin;
  for (var j = local; j < total; j = j + WORKGROUP_SIZE) {
    var value: f32;
    var index: i32;
    if (j < kept) {
      value = best_values[row * k + j];
      index = best_indices[row * k + j];
    } else {
      let column = params.column_begin + j - kept;
      value = similarity[row * params.columns + column];
      index = i32(params.column_offset + column);
    }
    if (index < 0 || value != value) {
      continue;
    }
    if (count < k || better(value, index, local_values[count - 1u], local_indices[count - 1u])) {
      var position = min(count, k - 1u);
      while (position > 0u &&
        better(value, index, local_values[position - 1u], local_indices[position - 1u])) {
        local_values[position] = local_values[position - 1u];
        local_indices[position] = local_indices[position - 1u];
        position = position - 1u;
      }
      local_values[position] = value;
      local_indices[position] = index;
      count = min(count + 1u, k);
    }
  }

  // k rounds: the best head among the threads' lists wins and its thread advances.
  var head = 0u;
  for (var round = 0u; round < k; round = round + 1u) {
    var value = LOWEST;
    var index = -1;
    if (head < count) {
      value = local_values[head];
      index = local_indices[head];
    }
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
    if (local == 0u) {
      result_values[round] = candidate_values[0];
      result_indices[round] = candidate_indices[0];
    }
    if (local == candidate_threads[0] && head < count) {
      head = head + 1u;
    }
    workgroupBarrier();
  }

  for (var j = local; j < k; j = j + WORKGROUP_SIZE) {
    best_values[row * k + j] = result_values[j];
    best_indices[row * k + j] = result_indices[j];
  }

  if (params.vote == 1u && local == 0u) {
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
}
