// Gradients of the unary activations: grad_in = grad_out * f'(x).
// OP: 0 GELU (erf form), 1 SiLU.
// `main`: one element per invocation (include/flat_main.wgsl). `main_vec4`: VECTORS_PER_INVOCATION
// consecutive vec4s per invocation (include/flat_vec4.wgsl; the buffers must hold whole vec4s up
// to ceil(count / 4)).

override WORKGROUP_SIZE: u32 = 256u;
override OP: u32 = 0u;

// #include "erf.wgsl"
// #include "flat_main.wgsl"
// #include "flat_vec4.wgsl"

struct Params {
  count: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> grad_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad_in: array<f32>;
@group(0) @binding(0) var<storage, read> x4: array<vec4f>;
@group(0) @binding(1) var<storage, read> grad_out4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> grad_in4: array<vec4f>;
@group(1) @binding(0) var<uniform> params: Params;

fn derivative(v: f32) -> f32 {
  if (OP == 0u) {
    return gelu_derivative(v);
  }
  let s = 1.0 / (1.0 + exp(-v));
  return s * (1.0 + v * (1.0 - s));
}

fn element(i: u32) {
  grad_in[i] = grad_out[i] * derivative(x[i]);
}

fn vec4_element(q: u32) {
  let v = x4[q];
  grad_in4[q] = grad_out4[q] * vec4f(derivative(v.x), derivative(v.y), derivative(v.z), derivative(v.w));
}

fn vec4_part(q: u32, c: u32) {
  grad_in4[q][c] = grad_out4[q][c] * derivative(x4[q][c]);
}
