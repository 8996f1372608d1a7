// AdamW step over one flat f32 parameter (PyTorch semantics, decoupled weight decay):
//   g = grad * multiplier[0]
//   p = p * (1 - lr * wd)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   p = p - (lr / bias_correction1) * m / (sqrt(v) / sqrt(bias_correction2) + eps)
// The per-step scalars live in a storage buffer (8 words per slot, written by one upload per step)
// so the uniform parameters (count, slot) stay constant and their buffers stay cached.
// Element i of a launch is at global id x + y * (number of x workgroups * WORKGROUP_SIZE).

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  count: u32,
  slot: u32,
}

// Scalars of one slot, in order: decay = 1 - lr * wd, beta1, 1 - beta1, beta2, 1 - beta2, eps,
// step size = lr / bias_correction1, sqrt(bias_correction2).
@group(0) @binding(0) var<storage, read_write> parameter: array<f32>;
@group(0) @binding(1) var<storage, read> gradient: array<f32>;
@group(0) @binding(2) var<storage, read_write> exp_avg: array<f32>;
@group(0) @binding(3) var<storage, read_write> exp_avg_sq: array<f32>;
@group(0) @binding(4) var<storage, read> scalars: array<f32>;
@group(0) @binding(5) var<storage, read> multiplier: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (i >= params.count) {
    return;
  }
  let base = params.slot * 8u;
  let decay = scalars[base];
  let beta1 = scalars[base + 1u];
  let one_minus_beta1 = scalars[base + 2u];
  let beta2 = scalars[base + 3u];
  let one_minus_beta2 = scalars[base + 4u];
  let eps = scalars[base + 5u];
  let step_size = scalars[base + 6u];
  let bias_correction2_sqrt = scalars[base + 7u];

  let g = gradient[i] * multiplier[0];
  let m = beta1 * exp_avg[i] + one_minus_beta1 * g;
  let v = beta2 * exp_avg_sq[i] + one_minus_beta2 * g * g;
  exp_avg[i] = m;
  exp_avg_sq[i] = v;
  let denominator = sqrt(v) / bias_correction2_sqrt + eps;
  parameter[i] = parameter[i] * decay - step_size * m / denominator;
}
