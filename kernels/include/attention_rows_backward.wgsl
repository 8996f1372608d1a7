// Shared by the "rows" and "shared_rows" attention backward kernels (attention/rows_backward_*,
// shared_rows_backward_*): attention_rows_common.wgsl plus the bindings the backward reads after
// q, k and v (dO, the saved log-sum-exp and delta, and the load of dO:
// attention_backward_inputs.wgsl), `RowTerms` and `score_grads`.
// #include "attention_rows_common.wgsl"
// #include "attention_backward_inputs.wgsl"

// p = exp2(s - lse) and ds = p (dp - delta) of one score (x: p, y: ds), from the vec4 partial dot
// products s4 = q.k (in base 2) and dp4 = dO.v and the row's lse (in base 2) and delta.
fn score_grads(s4: vec4f, dp4: vec4f, lse: f32, row_delta: f32) -> vec2f {
  let p = exp2(sum4(s4) - lse);
  return vec2f(p, p * (sum4(dp4) - row_delta));
}

// A query row's log-sum-exp (base 2, as score_grads takes it) and delta.
struct RowTerms {
  lse: f32,
  delta: f32,
}
