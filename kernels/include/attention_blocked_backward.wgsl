// Shared by the blocked attention backward kernels (attention/backward_query,
// backward_key_value): attention_blocked.wgsl plus the bindings the backward reads after q, k and
// v (dO, the saved log-sum-exp and delta) and the loads of dO.
// #include "attention_blocked.wgsl"

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

// Columns 4 vec .. 4 vec + 3 of the 4 rows of dO at `rows`, one row per matrix column.
fn grad_output_columns(rows: vec4u, vec: u32) -> mat4x4f {
  return mat4x4f(
    load_grad_output(rows.x, vec),
    load_grad_output(rows.y, vec),
    load_grad_output(rows.z, vec),
    load_grad_output(rows.w, vec),
  );
}
