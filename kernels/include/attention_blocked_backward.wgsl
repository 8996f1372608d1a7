// Shared by the blocked attention backward kernels (attention_backward_query,
// attention_backward_key_value): attention_blocked.wgsl plus the load of dO. The includer also
// declares the storage binding `grad_output` (array<f32>, read).
// #include "attention_blocked.wgsl"

// Columns 4 vec .. 4 vec + 3 of the row at `base` of grad_output; zero past d.
fn load_grad_output(base: u32, vec: u32) -> vec4f {
  let c = base + 4u * vec;
  if (4u * vec + 3u < params.d) {
    return vec4f(grad_output[c], grad_output[c + 1u], grad_output[c + 2u], grad_output[c + 3u]);
  }
  var result = vec4f(0.0);
  for (var i = 0u; 4u * vec + i < params.d && i < 4u; i++) {
    result[i] = grad_output[c + i];
  }
  return result;
}
