// AdamW step over one flat f32 parameter (PyTorch semantics, decoupled weight decay):
//   g = grad * multiplier[0]
//   p = p * (1 - lr * wd)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   p = p - (lr / bias_correction1) * m / (sqrt(v) / sqrt(bias_correction2) + eps)
// unless skip_flag[0] is set (a step guard's flag, src/optim/step_guard.ts): then p, m and v stay.

override WORKGROUP_SIZE: u32 = 256u;

// #include "optim_step.wgsl"
// #include "flat_main.wgsl"

// The slot's scalars (optim_step.wgsl): decay = 1 - lr * wd, step_size = lr / bias_correction1.
struct Scalars {
  decay: f32,
  beta1: f32, one_minus_beta1: f32,
  beta2: f32, one_minus_beta2: f32,
  eps: f32,
  step_size: f32,
  bias_correction2_sqrt: f32,
}

// Bindings 0-2 (parameter, gradient, scalars) and the params: include/optim_step.wgsl.
@group(0) @binding(3) var<storage, read_write> exp_avg: array<f32>;
@group(0) @binding(4) var<storage, read_write> exp_avg_sq: array<f32>;
@group(0) @binding(5) var<storage, read> multiplier: array<f32>;
@group(0) @binding(6) var<storage, read> skip_flag: array<u32>;

fn element(i: u32) {
  if (skip_flag[0] != 0u) {
    return;
  }
  let s = step_scalars();
  let g = gradient[i] * multiplier[0];
  let m = s.beta1 * exp_avg[i] + s.one_minus_beta1 * g;
  let v = s.beta2 * exp_avg_sq[i] + s.one_minus_beta2 * g * g;
  exp_avg[i] = m;
  exp_avg_sq[i] = v;
  let denominator = sqrt(v) / s.bias_correction2_sqrt + s.eps;
  parameter[i] = parameter[i] * s.decay - s.step_size * m / denominator;
}
