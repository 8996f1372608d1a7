// Attention backward for short sequences ("rows" variant), gradients of the keys and values: with
// p_ij = exp(scale q_i.k_j - lse_i) recomputed from the saved log-sum-exp, dv_j = sum_i p_ij dO_i
// and dk_j = scale * sum_i p_ij (dO_i.v_j - delta_i) q_i. One invocation per (batch * head, key
// row), no workgroup memory or barriers (see attention_rows_forward.wgsl): it holds k_j (times
// scale * log2 e), v_j and the dk_j, dv_j accumulators in HEAD_VECS vec4s and streams the n query
// rows (q_i, dO_i, lse_i, delta_i) once. No atomics: each key row is written by its own invocation.
// Invocation r = x + y * (x workgroups * WORKGROUP_SIZE) computes key row r % n of head r / n.
// Layouts as in attention_backward_key_value.wgsl; with SEPARATE_VALUE_GRAD = 0 (packed qkv) dk and
// dv both go to grad_key (one [B, N, 3 D] gradient, at offsets k_offset and v_offset) and
// grad_value is a placeholder that is never written.

// #include "attention_rows_backward.wgsl"

override SEPARATE_VALUE_GRAD: u32 = 1u;

@group(0) @binding(0) var<storage, read> query: array<f32>;
@group(0) @binding(1) var<storage, read> key: array<f32>;
@group(0) @binding(2) var<storage, read> value: array<f32>;
@group(0) @binding(3) var<storage, read> grad_output: array<f32>;
@group(0) @binding(4) var<storage, read> log_sum_exp: array<f32>;
@group(0) @binding(5) var<storage, read> delta: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_key: array<f32>;
@group(0) @binding(7) var<storage, read_write> grad_value: array<f32>;
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
  let out_row = params.out_row;
  let query_base = in_base + params.q_offset;
  let row_base = in_base + row * in_row;

  var k: array<vec4f, MAX_HEAD_VECS>;
  var v_row: array<vec4f, MAX_HEAD_VECS>;
  var grad_k: array<vec4f, MAX_HEAD_VECS>;
  var grad_v: array<vec4f, MAX_HEAD_VECS>;
  var queries: array<vec4f, MAX_HEAD_VECS>;
  var grads: array<vec4f, MAX_HEAD_VECS>;
  for (var v = 0u; v < HEAD_VECS; v++) {
    k[v] = load_key(row_base + params.k_offset, v) * params.scale_log2;
    v_row[v] = load_value(row_base + params.v_offset, v);
    grad_k[v] = vec4f(0.0);
    grad_v[v] = vec4f(0.0);
  }
  let head_rows = head * n;
  for (var i = 0u; i < n; i++) {
    let query_row = query_base + i * in_row;
    let grad_row = out_base + i * out_row;
    var score4 = vec4f(0.0);
    var grad_p4 = vec4f(0.0);
    for (var v = 0u; v < HEAD_VECS; v++) {
      queries[v] = load_query(query_row, v);
      grads[v] = load_grad_output(grad_row, v);
      score4 += k[v] * queries[v];
      grad_p4 += v_row[v] * grads[v];
    }
    let lse = log_sum_exp[head_rows + i] * LOG2_E;
    let p = exp2((score4.x + score4.y) + (score4.z + score4.w) - lse);
    let grad_score = p * ((grad_p4.x + grad_p4.y) + (grad_p4.z + grad_p4.w) - delta[head_rows + i]);
    for (var v = 0u; v < HEAD_VECS; v++) {
      grad_v[v] += p * grads[v];
      grad_k[v] += grad_score * queries[v];
    }
  }

  for (var v = 0u; v < HEAD_VECS; v++) {
    let key_result = grad_k[v] * params.scale;
    let value_result = grad_v[v];
    let columns = select(4u, LAST_COLUMNS, v + 1u == HEAD_VECS);
    for (var i = 0u; i < columns; i++) {
      let c = row_base + 4u * v + i;
      grad_key[c + params.k_offset] = key_result[i];
      if (SEPARATE_VALUE_GRAD != 0u) {
        grad_value[c + params.v_offset] = value_result[i];
      } else {
        grad_key[c + params.v_offset] = value_result[i];
      }
    }
  }
}
