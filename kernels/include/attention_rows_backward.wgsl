// Shared by the "rows" attention backward kernels (attention/rows_backward_query,
// rows_backward_key_value): attention_rows.wgsl plus the bindings the backward reads after q, k
// and v (dO, the saved log-sum-exp and delta), the load of dO and `score_grads`.
// #include "attention_rows.wgsl"

@group(0) @binding(3) var<storage, read> grad_output: array<f32>;
@group(0) @binding(4) var<storage, read> log_sum_exp: array<f32>;
@group(0) @binding(5) var<storage, read> delta: array<f32>;

// Columns 4 vec .. 4 vec + 3 of the row at `base` of grad_output; zero past d.
fn load_grad_output(base: u32, vec: u32) -> vec4f {
  let c = base + 4u * vec;
  if (LAST_COLUMNS == 4u || vec + 1u < HEAD_VECS) {
    return vec4f(grad_output[c], grad_output[c + 1u], grad_output[c + 2u], grad_output[c + 3u]);
  }
  var result = vec4f(0.0);
  for (var i = 0u; i < LAST_COLUMNS; i++) {
    result[i] = grad_output[c + i];
  }
  return result;
}

// p = exp2(s - lse) and ds = p (dp - delta) of one score (x: p, y: ds), from the vec4 partial dot
// products s4 = q.k (in base 2) and dp4 = dO.v and the row's lse (in base 2) and delta.
fn score_grads(s4: vec4f, dp4: vec4f, lse: f32, row_delta: f32) -> vec2f {
  let p = exp2(sum4(s4) - lse);
  return vec2f(p, p * (sum4(dp4) - row_delta));
}
