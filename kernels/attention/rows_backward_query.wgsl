// Attention backward for short sequences ("rows" variant), gradient of the queries: with
// p_ij = exp(scale q_i.k_j - lse_i) recomputed from the saved log-sum-exp,
// dq_i = scale * sum_j p_ij (dO_i.v_j - delta_i) k_j (delta_i = dO_i.O_i, from
// attention_backward_delta.wgsl). One invocation per (batch * head, query row), no workgroup memory
// or barriers (see attention_rows_forward.wgsl): it holds q_i (times scale * log2 e), dO_i and the
// dq_i accumulator in HEAD_VECS vec4s and streams the n keys and values once.
// Invocation r = x + y * (x workgroups * WORKGROUP_SIZE) computes row r % n of head r / n.
// Layouts (strides in params) as described in include/attention_params.wgsl: q, k, v and dq at the
// input offsets, dO at the output's; log-sum-exp and delta are [B * H, N].

// #include "attention_rows_backward.wgsl"

@group(0) @binding(0) var<storage, read> query: array<f32>;
@group(0) @binding(1) var<storage, read> key: array<f32>;
@group(0) @binding(2) var<storage, read> value: array<f32>;
@group(0) @binding(3) var<storage, read> grad_output: array<f32>;
@group(0) @binding(4) var<storage, read> log_sum_exp: array<f32>;
@group(0) @binding(5) var<storage, read> delta: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_query: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = id.x + id.y * groups.x * WORKGROUP_SIZE;
  let n = params.n;
  if (index >= params.batch_heads * n) {
    return;
  }
  let head = index / n;
  let row = index - head * n;
  let in_base = input_base(head);
  let out_base = output_base(head);
  let in_row = params.in_row;
  let key_base = in_base + params.k_offset;
  let value_base = in_base + params.v_offset;

  var q: array<vec4f, MAX_HEAD_VECS>;
  var grad_out: array<vec4f, MAX_HEAD_VECS>;
  var accumulator: array<vec4f, MAX_HEAD_VECS>;
  var keys: array<vec4f, MAX_HEAD_VECS>;
  let query_base = in_base + params.q_offset + row * in_row;
  let grad_base = out_base + row * params.out_row;
  for (var v = 0u; v < HEAD_VECS; v++) {
    q[v] = load_query(query_base, v) * params.scale_log2;
    grad_out[v] = load_grad_output(grad_base, v);
    accumulator[v] = vec4f(0.0);
  }
  let lse = log_sum_exp[index] * LOG2_E;
  let row_delta = delta[index];
  for (var j = 0u; j < n; j++) {
    let key_row = key_base + j * in_row;
    let value_row = value_base + j * in_row;
    var score4 = vec4f(0.0);
    var grad_p4 = vec4f(0.0);
    for (var v = 0u; v < HEAD_VECS; v++) {
      keys[v] = load_key(key_row, v);
      score4 += q[v] * keys[v];
      grad_p4 += grad_out[v] * load_value(value_row, v);
    }
    let p = exp2((score4.x + score4.y) + (score4.z + score4.w) - lse);
    let grad_score = p * ((grad_p4.x + grad_p4.y) + (grad_p4.z + grad_p4.w) - row_delta);
    for (var v = 0u; v < HEAD_VECS; v++) {
      accumulator[v] += grad_score * keys[v];
    }
  }

  for (var v = 0u; v < HEAD_VECS; v++) {
    let result = accumulator[v] * params.scale;
    let c = query_base + 4u * v;
    if (LAST_COLUMNS == 4u || v + 1u < HEAD_VECS) {
      grad_query[c] = result.x;
      grad_query[c + 1u] = result.y;
      grad_query[c + 2u] = result.z;
      grad_query[c + 3u] = result.w;
    } else {
      for (var i = 0u; i < LAST_COLUMNS; i++) {
        grad_query[c + i] = result[i];
      }
    }
  }
}
