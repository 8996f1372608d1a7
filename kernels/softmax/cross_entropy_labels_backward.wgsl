// Gradient of cross-entropy with integer labels with respect to the logits [rows, classes], one
// invocation per element: grad[r, c] = g[r] * (exp(logits[r, c] - lse[r]) - (c == labels[r])).
// The Params (length = classes) and grad_out (g, binding 0): include/cross_entropy_gradient.wgsl.

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_main.wgsl"
// #include "cross_entropy_gradient.wgsl"

@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad_logits: array<f32>;

fn element(i: u32) {
  let row = row_of(i);
  let column = i32(i % params.length);
  var value = exp(logits[i] - lse[row]);
  if (column == labels[row]) {
    value -= 1.0;
  }
  grad_logits[i] = grad_out[row] * value;
}
