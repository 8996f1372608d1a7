// Gradients of the soft-target cross-entropy, one invocation per element:
// grad_target = -g[row] * log_p, grad_log_p = -g[row] * target. The Params and grad_out (g, binding
// 0): include/cross_entropy_gradient.wgsl.

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_main.wgsl"
// #include "cross_entropy_gradient.wgsl"

@group(0) @binding(1) var<storage, read> target_values: array<f32>;
@group(0) @binding(2) var<storage, read> log_p: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad_target: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad_log_p: array<f32>;

fn element(i: u32) {
  let g = grad_out[row_of(i)];
  grad_target[i] = -g * log_p[i];
  grad_log_p[i] = -g * target_values[i];
}
