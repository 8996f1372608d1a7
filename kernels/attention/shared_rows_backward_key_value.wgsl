enable subgroups;
// Attention backward for short sequences, "shared_rows" variant, gradients of the keys and
// values: what attention/rows_backward_key_value computes (with p_ij = exp(scale q_i.k_j - lse_i)
// recomputed from the saved log-sum-exp, dv_j = sum_i p_ij dO_i and
// dk_j = scale * sum_i p_ij (dO_i.v_j - delta_i) q_i), one invocation per key row, with the query
// rows (q_i, dO_i, lse_i, delta_i) streamed in chunks of 8 that the 8 lanes of a group load once
// and share (include/attention_rows_shared.wgsl). The 8 steps of a chunk are written out, so that
// each shuffle reads a constant lane offset. Layouts as in attention_backward_key_value.wgsl; dk
// and dv as include/attention_key_value_gradients.wgsl says.

// #include "attention_rows_shared.wgsl"
// #include "attention_rows_backward.wgsl"
// f16 form (`_f16`): q, k, v stored as f16 (include/attention_inputs_f16.wgsl); dO and the
// gradients f32.
// #form f16: attention_inputs.wgsl -> attention_inputs_f16.wgsl

// Bindings 0-2 (q, k, v) and the params: include/attention_params.wgsl; 3-5 (dO, log-sum-exp,
// delta): include/attention_backward_inputs.wgsl; 6-7 (dk, dv):
// include/attention_key_value_gradients.wgsl.
// #include "attention_key_value_gradients.wgsl"

// Adds query chunk + i's terms (its q, dO, lse and delta held by lane first + i) to dk and dv:
// ds_ij q_i and p_ij dO_i, nothing past the n queries.
fn add_query(
  grad_k: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  grad_v: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  k: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  v_row: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  queries: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  grads: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  terms: RowTerms,
  task: SharedTask,
  chunk: u32,
  i: u32,
) {
  let lane = task.first + i;
  let score4 = shared_dot4(k, queries, lane);
  let grad_p4 = shared_dot4(v_row, grads, lane);
  let lse = subgroupShuffle(terms.lse, lane);
  let row_delta = subgroupShuffle(terms.delta, lane);
  let weights = select(vec2f(0.0), score_grads(score4, grad_p4, lse, row_delta), chunk + i < params.n);
  shared_add(grad_v, weights.x, grads, lane);
  shared_add(grad_k, weights.y, queries, lane);
}

// The key row of `task` (attention_rows_shared.wgsl's `main`).
fn compute_row(task: SharedTask) {
  let bases = task.bases;
  let rows = key_value_rows(bases, task.row);
  var k: array<vec4f, MAX_HEAD_VECS>;
  var v_row: array<vec4f, MAX_HEAD_VECS>;
  load_key_value(&k, &v_row, rows);
  // this lane's share of a chunk of 8 query rows: its q_i and dO_i
  var queries: array<vec4f, MAX_HEAD_VECS>;
  var grads: array<vec4f, MAX_HEAD_VECS>;
  // dk_j and dv_j, summed over the query rows (function variables start at zero)
  var grad_k: array<vec4f, MAX_HEAD_VECS>;
  var grad_v: array<vec4f, MAX_HEAD_VECS>;
  let head_rows = task.head * params.n;
  for (var chunk = 0u; chunk < params.n; chunk += 8u) {
    let streamed = streamed_row(task, chunk);
    let query_row = bases.queries + streamed * params.in_row;
    let grad_row = bases.outputs + streamed * params.out_row;
    for (var v = 0u; v < HEAD_VECS; v++) {
      queries[v] = load_query(query_row, v);
      grads[v] = load_grad_output(grad_row, v);
    }
    let terms = RowTerms(log_sum_exp[head_rows + streamed] * LOG2_E, delta[head_rows + streamed]);
    add_query(&grad_k, &grad_v, &k, &v_row, &queries, &grads, terms, task, chunk, 0u);
    add_query(&grad_k, &grad_v, &k, &v_row, &queries, &grads, terms, task, chunk, 1u);
    add_query(&grad_k, &grad_v, &k, &v_row, &queries, &grads, terms, task, chunk, 2u);
    add_query(&grad_k, &grad_v, &k, &v_row, &queries, &grads, terms, task, chunk, 3u);
    add_query(&grad_k, &grad_v, &k, &v_row, &queries, &grads, terms, task, chunk, 4u);
    add_query(&grad_k, &grad_v, &k, &v_row, &queries, &grads, terms, task, chunk, 5u);
    add_query(&grad_k, &grad_v, &k, &v_row, &queries, &grads, terms, task, chunk, 6u);
    add_query(&grad_k, &grad_v, &k, &v_row, &queries, &grads, terms, task, chunk, 7u);
  }
  if (task.live) {
    store_key_value_gradients(&grad_k, &grad_v, rows);
  }
}
