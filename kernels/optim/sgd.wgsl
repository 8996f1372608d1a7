// SGD with momentum over one flat f32 parameter (PyTorch's torch.optim.SGD semantics):
//   g = grad + weight_decay * p
//   buffer = momentum_now * buffer + damping * g      (first step: momentum_now 0, damping 1)
//   p = p - lr * (gradient_weight * g + buffer_weight * buffer)
// with (gradient_weight, buffer_weight) = (1, momentum) for Nesterov, else (0, 1).
// The per-step scalars live in a storage buffer (8 words per slot, one upload per step) so the
// uniform parameters (count, slot) stay constant and their buffers stay cached.
// Element i of a launch is at global id x + y * (number of x workgroups * WORKGROUP_SIZE).

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  count: u32,
  slot: u32,
}

// Scalars of one slot, in order: lr, momentum_now, damping, weight_decay, gradient_weight,
// buffer_weight.
@group(0) @binding(0) var<storage, read_write> parameter: array<f32>;
@group(0) @binding(1) var<storage, read> gradient: array<f32>;
@group(0) @binding(2) var<storage, read_write> momentum_buffer: array<f32>;
@group(0) @binding(3) var<storage, read> scalars: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (i >= params.count) {
    return;
  }
  let base = params.slot * 8u;
  let lr = scalars[base];
  let momentum_now = scalars[base + 1u];
  let damping = scalars[base + 2u];
  let weight_decay = scalars[base + 3u];
  let gradient_weight = scalars[base + 4u];
  let buffer_weight = scalars[base + 5u];
  let p = parameter[i];
  let g = gradient[i] + weight_decay * p;
  let b = momentum_now * momentum_buffer[i] + damping * g;
  momentum_buffer[i] = b;
  parameter[i] = p - lr * (gradient_weight * g + buffer_weight * b);
}
