// Attention backward for short sequences ("rows" variant), gradient of the queries: with
// p_ij = exp(scale q_i.k_j - lse_i) recomputed from the saved log-sum-exp,
// dq_i = scale * sum_j p_ij (dO_i.v_j - delta_i) k_j (delta_i = dO_i.O_i, from
// attention_backward_delta.wgsl). One invocation per (batch * head, query row), no workgroup memory
// or barriers (see attention_rows_forward.wgsl): it holds q_i (times scale * log2 e), dO_i and the
// dq_i accumulator in HEAD_VECS vec4s and streams the n keys and values once.
// Invocation r = x + y * (x workgroups * WORKGROUP_SIZE) computes row r % n of head r / n.
// Layouts (strides in params) as described in include/attention_params.wgsl: q, k, v and dq at the
// input offsets, dO at the output's; log-sum-exp and delta are [B * H, N].

// #include "attention_rows.wgsl"
// #include "attention_rows_backward.wgsl"
// f16 form (`_f16`): q, k, v stored as f16 (include/attention_inputs_f16.wgsl); dO and the
// gradients f32.
// #form f16: attention_inputs.wgsl -> attention_inputs_f16.wgsl

// Bindings 0-2 (q, k, v) and the params: include/attention_params.wgsl; 3-5 (dO, log-sum-exp,
// delta): include/attention_backward_inputs.wgsl; 6 (dq): include/attention_query_gradient.wgsl.
// #include "attention_query_gradient.wgsl"

// The query row of `task` (attention_rows.wgsl's `main`).
fn compute_row(task: RowTask) {
  let bases = task.bases;
  var q: array<vec4f, MAX_HEAD_VECS>;
  var grad_out: array<vec4f, MAX_HEAD_VECS>;
  load_query_row(&q, &grad_out, bases, task.row);
  let lse = log_sum_exp[task.index] * LOG2_E;
  let row_delta = delta[task.index];
  // dq_i, summed over the key rows (function variables start at zero)
  var accumulator: array<vec4f, MAX_HEAD_VECS>;
  var keys: array<vec4f, MAX_HEAD_VECS>;
  for (var j = 0u; j < params.n; j++) {
    let key_row = bases.keys + j * params.in_row;
    let value_row = bases.values + j * params.in_row;
    var score4 = vec4f(0.0);
    var grad_p4 = vec4f(0.0);
    for (var v = 0u; v < HEAD_VECS; v++) {
      keys[v] = load_key(key_row, v);
      score4 += q[v] * keys[v];
      grad_p4 += grad_out[v] * load_value(value_row, v);
    }
    let grad_score = score_grads(score4, grad_p4, lse, row_delta).y;
    for (var v = 0u; v < HEAD_VECS; v++) {
      accumulator[v] += grad_score * keys[v];
    }
  }
  store_query_gradient(&accumulator, bases, task.row);
}
