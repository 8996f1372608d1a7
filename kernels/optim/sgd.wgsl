// SGD with momentum over one flat f32 parameter (PyTorch's torch.optim.SGD semantics):
//   g = grad + weight_decay * p
//   buffer = momentum_now * buffer + damping * g      (first step: momentum_now 0, damping 1)
//   p = p - lr * (gradient_weight * g + buffer_weight * buffer)
// with (gradient_weight, buffer_weight) = (1, momentum) for Nesterov, else (0, 1).

override WORKGROUP_SIZE: u32 = 256u;

// #include "optim_step.wgsl"
// #include "flat_main.wgsl"

// The slot's scalars (optim_step.wgsl).
struct Scalars {
  lr: f32,
  momentum_now: f32, damping: f32,
  weight_decay: f32,
  gradient_weight: f32, buffer_weight: f32,
  unused0: f32, unused1: f32,
}

// Bindings 0-2 (parameter, gradient, scalars) and the params: include/optim_step.wgsl.
@group(0) @binding(3) var<storage, read_write> momentum_buffer: array<f32>;

fn element(i: u32) {
  let s = step_scalars();
  let p = parameter[i];
  let g = gradient[i] + s.weight_decay * p;
  let b = s.momentum_now * momentum_buffer[i] + s.damping * g;
  momentum_buffer[i] = b;
  parameter[i] = p - s.lr * (s.gradient_weight * g + s.buffer_weight * b);
}
