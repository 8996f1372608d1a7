// Attention backward for short sequences ("rows" variant), gradients of the keys and values: with
// p_ij = exp(scale q_i.k_j - lse_i) recomputed from the saved log-sum-exp, dv_j = sum_i p_ij dO_i
// and dk_j = scale * sum_i p_ij (dO_i.v_j - delta_i) q_i. One invocation per (batch * head, key
// row), no workgroup memory or barriers (see attention_rows_forward.wgsl): it holds k_j (times
// scale * log2 e), v_j and the dk_j, dv_j accumulators in HEAD_VECS vec4s and streams the n query
// rows (q_i, dO_i, lse_i, delta_i) once. No atomics: each key row is written by its own invocation.
// Invocation r = x + y * (x workgroups * WORKGROUP_SIZE) computes key row r % n of head r / n.
// Layouts as in attention_backward_key_value.wgsl; dk and dv as
// include/attention_key_value_gradients.wgsl says.

// #include "attention_rows.wgsl"
// #include "attention_rows_backward.wgsl"
// f16 form (`_f16`): q, k, v stored as f16 (include/attention_inputs_f16.wgsl); dO and the
// gradients f32.
// #form f16: attention_inputs.wgsl -> attention_inputs_f16.wgsl

// Bindings 0-2 (q, k, v) and the params: include/attention_params.wgsl; 3-5 (dO, log-sum-exp,
// delta): include/attention_backward_inputs.wgsl; 6-7 (dk, dv):
// include/attention_key_value_gradients.wgsl.
// #include "attention_key_value_gradients.wgsl"

// The key row of `task` (attention_rows.wgsl's `main`).
fn compute_row(task: RowTask) {
  let bases = task.bases;
  let rows = key_value_rows(bases, task.row);
  var k: array<vec4f, MAX_HEAD_VECS>;
  var v_row: array<vec4f, MAX_HEAD_VECS>;
  load_key_value(&k, &v_row, rows);
  // dk_j and dv_j, summed over the query rows (function variables start at zero)
  var grad_k: array<vec4f, MAX_HEAD_VECS>;
  var grad_v: array<vec4f, MAX_HEAD_VECS>;
  let head_rows = task.head * params.n;
  // the streamed query row's q_i and dO_i
  var queries: array<vec4f, MAX_HEAD_VECS>;
  var grads: array<vec4f, MAX_HEAD_VECS>;
  for (var i = 0u; i < params.n; i++) {
    let query_row = bases.queries + i * params.in_row;
    let grad_row = bases.outputs + i * params.out_row;
    var score4 = vec4f(0.0);
    var grad_p4 = vec4f(0.0);
    for (var v = 0u; v < HEAD_VECS; v++) {
      queries[v] = load_query(query_row, v);
      grads[v] = load_grad_output(grad_row, v);
      score4 += k[v] * queries[v];
      grad_p4 += v_row[v] * grads[v];
    }
    let lse = log_sum_exp[head_rows + i] * LOG2_E;
    let grads_of_score = score_grads(score4, grad_p4, lse, delta[head_rows + i]);
    for (var v = 0u; v < HEAD_VECS; v++) {
      grad_v[v] += grads_of_score.x * grads[v];
      grad_k[v] += grads_of_score.y * queries[v];
    }
  }
  store_key_value_gradients(&grad_k, &grad_v, rows);
}
