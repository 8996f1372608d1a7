// Shared by the attention backward kernels (blocked, team and rows): the bindings the backward
// reads after q, k and v (dO, the saved log-sum-exp and delta; all f32) and the vec4 loads of dO.
// Include after attention_vec_loads.wgsl (WHOLE_VECS).

@group(0) @binding(3) var<storage, read> grad_output: array<vec4f>;
@group(0) @binding(4) var<storage, read> log_sum_exp: array<f32>;
@group(0) @binding(5) var<storage, read> delta: array<f32>;

// Columns 4 vec .. 4 vec + 3 of the row at element `base` of dO; zero past d (as load_input).
fn load_grad_output(base: u32, vec: u32) -> vec4f {
  if (WHOLE_VECS) {
    if (4u * vec < params.d) {
      return grad_output[base / 4u + vec];
    }
    return vec4f(0.0);
  }
  var result = vec4f(0.0);
  for (var i = 0u; i < 4u && 4u * vec + i < params.d; i++) {
    let at = base + 4u * vec + i;
    result[i] = grad_output[at / 4u][at % 4u];
  }
  return result;
}
