// Shared by the attention backward kernels (blocked and team): the bindings the backward reads
// after q, k and v (dO, the saved log-sum-exp and delta) and the vec4 loads of dO. Include after
// attention_vec_loads.wgsl (WHOLE_VECS).

@group(0) @binding(3) var<storage, read> grad_output: array<f32>;
@group(0) @binding(4) var<storage, read> log_sum_exp: array<f32>;
@group(0) @binding(5) var<storage, read> delta: array<f32>;

// Columns 4 vec .. 4 vec + 3 of the row at `base` of grad_output; zero past d.
fn load_grad_output(base: u32, vec: u32) -> vec4f {
  let c = base + 4u * vec;
  if (4u * vec + 3u < params.d) {
    return vec4f(grad_output[c], grad_output[c + 1u], grad_output[c + 2u], grad_output[c + 3u]);
  }
  if (WHOLE_VECS) {
    return vec4f(0.0);
  }
  var result = vec4f(0.0);
  for (var i = 0u; 4u * vec + i < params.d && i < 4u; i++) {
    result[i] = grad_output[c + i];
  }
  return result;
}
