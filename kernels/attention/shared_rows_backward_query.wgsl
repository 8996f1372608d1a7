enable subgroups;
// Attention backward for short sequences, "shared_rows" variant, gradient of the queries: what
// attention/rows_backward_query computes (with p_ij = exp(scale q_i.k_j - lse_i) recomputed from
// the saved log-sum-exp, dq_i = scale * sum_j p_ij (dO_i.v_j - delta_i) k_j), one invocation per
// query row, with the keys and values streamed in chunks of 8 rows that the 8 lanes of a group
// load once and share (include/attention_rows_shared.wgsl). The 8 steps of a chunk are written
// out, so that each shuffle reads a constant lane offset.
// Layouts (strides in params) as described in include/attention_params.wgsl: q, k, v and dq at the
// input offsets, dO at the output's; log-sum-exp and delta are [B * H, N].

// #include "attention_rows_shared.wgsl"
// #include "attention_rows_backward.wgsl"
// f16 form (`_f16`): q, k, v stored as f16 (include/attention_inputs_f16.wgsl); dO and the
// gradients f32.
// #form f16: attention_inputs.wgsl -> attention_inputs_f16.wgsl

// Bindings 0-2 (q, k, v) and the params: include/attention_params.wgsl; 3-5 (dO, log-sum-exp,
// delta): include/attention_backward_inputs.wgsl; 6 (dq): include/attention_query_gradient.wgsl.
// #include "attention_query_gradient.wgsl"

// Adds key chunk + j's term (held by lane first + j) to dq: ds_ij k_j, nothing past the n keys.
fn add_key(
  accumulator: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  q: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  grad_out: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  keys: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  values: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  row: RowTerms,
  task: SharedTask,
  chunk: u32,
  j: u32,
) {
  let lane = task.first + j;
  let score4 = shared_dot4(q, keys, lane);
  let grad_p4 = shared_dot4(grad_out, values, lane);
  let grad_score = score_grads(score4, grad_p4, row.lse, row.delta).y;
  shared_add(accumulator, select(0.0, grad_score, chunk + j < params.n), keys, lane);
}

// The query row of `task` (attention_rows_shared.wgsl's `main`).
fn compute_row(task: SharedTask) {
  let bases = task.bases;
  var q: array<vec4f, MAX_HEAD_VECS>;
  var grad_out: array<vec4f, MAX_HEAD_VECS>;
  load_query_row(&q, &grad_out, bases, task.row);
  let row = RowTerms(log_sum_exp[task.index] * LOG2_E, delta[task.index]);
  // this lane's share of a chunk of 8 key rows: its k_j and v_j
  var keys: array<vec4f, MAX_HEAD_VECS>;
  var values: array<vec4f, MAX_HEAD_VECS>;
  // dq_i, summed over the key rows (function variables start at zero)
  var accumulator: array<vec4f, MAX_HEAD_VECS>;
  for (var chunk = 0u; chunk < params.n; chunk += 8u) {
    let streamed = streamed_row(task, chunk) * params.in_row;
    for (var v = 0u; v < HEAD_VECS; v++) {
      keys[v] = load_key(bases.keys + streamed, v);
      values[v] = load_value(bases.values + streamed, v);
    }
    add_key(&accumulator, &q, &grad_out, &keys, &values, row, task, chunk, 0u);
    add_key(&accumulator, &q, &grad_out, &keys, &values, row, task, chunk, 1u);
    add_key(&accumulator, &q, &grad_out, &keys, &values, row, task, chunk, 2u);
    add_key(&accumulator, &q, &grad_out, &keys, &values, row, task, chunk, 3u);
    add_key(&accumulator, &q, &grad_out, &keys, &values, row, task, chunk, 4u);
    add_key(&accumulator, &q, &grad_out, &keys, &values, row, task, chunk, 5u);
    add_key(&accumulator, &q, &grad_out, &keys, &values, row, task, chunk, 6u);
    add_key(&accumulator, &q, &grad_out, &keys, &values, row, task, chunk, 7u);
  }
  if (task.live) {
    store_query_gradient(&accumulator, bases, task.row);
  }
}
