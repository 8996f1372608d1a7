// Gradient of cross-entropy with integer labels with respect to the logits, one invocation per
// element: grad[r, c] = g[r] * (exp(logits[r, c] - lse[r]) - (c == labels[r])).

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_main.wgsl"

struct Params {
  count: u32,
  classes: u32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> grad_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad_logits: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

fn element(i: u32) {
  let row = i / params.classes;
  let column = i32(i % params.classes);
  var value = exp(logits[i] - lse[row]);
  if (column == labels[row]) {
    value -= 1.0;
  }
  grad_logits[i] = grad_out[row] * value;
}
