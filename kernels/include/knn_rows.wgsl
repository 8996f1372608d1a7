// The pieces the two k-NN kernels share (eval/knn_topk.wgsl for any k, eval/knn_nearest.wgsl for
// k = 1): the parameters and bindings of one similarity chunk [rows, columns] and the running best
// [rows, k], the ranking of neighbours (`better`: similarity descending, train index ascending on
// ties, an index < 0 an empty slot), the column range of a dispatch, the workgroup argmax
// (`reduce_candidates`) and thread 0's vote (`vote_predictions`): each neighbour adds
// exp((s - s_max) / T) to its class (the common factor exp(s_max / T) does not change the ranking)
// and the `predictions_per_row` best classes (votes descending, class ascending on ties; classes
// with no vote fill up in class order) are written to row `prediction_offset + row` of
// `predictions`. The includer declares `override WORKGROUP_SIZE: u32` first.

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
