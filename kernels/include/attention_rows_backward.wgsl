// Shared by the "rows" attention backward kernels (attention/rows_backward_query,
// rows_backward_key_value): attention_rows.wgsl plus the bindings the backward reads after q, k
// and v (dO, the saved log-sum-exp and delta) and the load of dO.
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
