// Gradients of the unary activations: grad_in = grad_out * f'(x).
// OP: 0 GELU (erf form), 1 SiLU.

override WORKGROUP_SIZE: u32 = 256u;
override OP: u32 = 0u;

// #include "erf.wgsl"
// #include "flat_main.wgsl"

struct Params {
  count: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> grad_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad_in: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

fn element(i: u32) {
  let v = x[i];
  var derivative: f32;
  if (OP == 0u) {
    derivative = gelu_derivative(v);
  } else {
    let s = 1.0 / (1.0 + exp(-v));
    derivative = s * (1.0 + v * (1.0 - s));
  }
  grad_in[i] = grad_out[i] * derivative;
}
