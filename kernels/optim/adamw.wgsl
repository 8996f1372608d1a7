// AdamW step over one flat f32 parameter (PyTorch semantics, decoupled weight decay):
//   g = grad * multiplier[scale_index]   (a clip factor: one for all, or one per parameter)
//   p = p * (1 - lr * wd)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   p = p - (lr / bias_correction1) * m / (sqrt(v) / sqrt(bias_correction2) + eps)
// unless skip_flag[0] is set (a step guard's flag, src/optim/step_guard.ts): then p, m and v stay.
// `main`: one element per invocation; `main_vec4`: vec4s (include/flat_vec4.wgsl; every buffer
// holds whole vec4s up to ceil(count / 4)), a fraction of the loads per element.

override WORKGROUP_SIZE: u32 = 256u;

// #include "optim_step.wgsl"
// #include "flat_main.wgsl"
// #include "flat_vec4.wgsl"

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
@group(0) @binding(3) var<storage, read_write> exp_avg4: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> exp_avg_sq4: array<vec4f>;

// A parameter and its moments after the step.
struct Updated {
  parameter: vec4f,
  exp_avg: vec4f,
  exp_avg_sq: vec4f,
}

// The update of up to four elements (the scalar entry point uses the first).
fn adamw(p: vec4f, gradient: vec4f, m0: vec4f, v0: vec4f) -> Updated {
  let s = step_scalars();
  let g = gradient * multiplier[params.scale_index];
  let m = s.beta1 * m0 + s.one_minus_beta1 * g;
  let v = s.beta2 * v0 + s.one_minus_beta2 * g * g;
  let denominator = sqrt(v) / s.bias_correction2_sqrt + s.eps;
  return Updated(p * s.decay - s.step_size * m / denominator, m, v);
}

fn element(i: u32) {
  if (skip_flag[0] != 0u) {
    return;
  }
  let r = adamw(vec4f(parameter[i]), vec4f(gradient[i]), vec4f(exp_avg[i]), vec4f(exp_avg_sq[i]));
  exp_avg[i] = r.exp_avg.x;
  exp_avg_sq[i] = r.exp_avg_sq.x;
  parameter[i] = r.parameter.x;
}

fn vec4_element(q: u32) {
  if (skip_flag[0] != 0u) {
    return;
  }
  let r = adamw(parameter4[q], gradient4[q], exp_avg4[q], exp_avg_sq4[q]);
  exp_avg4[q] = r.exp_avg;
  exp_avg_sq4[q] = r.exp_avg_sq;
  parameter4[q] = r.parameter;
}

// Element c of the last, partial vec4 q (each operand read as that one component: indexing a
// computed vector by c would put it in per-invocation scratch memory, on lavapipe 10x the time of
// the whole kernel).
fn vec4_part(q: u32, c: u32) {
  if (skip_flag[0] != 0u) {
    return;
  }
  let r = adamw(
    vec4f(parameter4[q][c]),
    vec4f(gradient4[q][c]),
    vec4f(exp_avg4[q][c]),
    vec4f(exp_avg_sq4[q][c]),
  );
  exp_avg4[q][c] = r.exp_avg.x;
  exp_avg_sq4[q][c] = r.exp_avg_sq.x;
  parameter4[q][c] = r.parameter.x;
}
