// Exponential moving average in place over flat f32 arrays:
//   target = momentum * target + (1 - momentum) * source,  momentum = momentum_buffer[0].
// The momentum is read from a storage buffer (one upload per step) so uniforms stay cached.
// Nothing changes when skip_flag[0] is set (a step guard's flag, src/optim/step_guard.ts).
// `main`: one invocation per element (include/flat_main.wgsl); `main_vec4`: vec4s
// (include/flat_vec4.wgsl; both buffers hold whole vec4s up to ceil(count / 4)).

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_main.wgsl"
// #include "flat_vec4.wgsl"

struct Params {
  count: u32,
}

@group(0) @binding(0) var<storage, read_write> target_values: array<f32>;
@group(0) @binding(1) var<storage, read> source_values: array<f32>;
@group(0) @binding(2) var<storage, read> momentum_buffer: array<f32>;
@group(0) @binding(3) var<storage, read> skip_flag: array<u32>;
@group(0) @binding(0) var<storage, read_write> target4: array<vec4f>;
@group(0) @binding(1) var<storage, read> source4: array<vec4f>;
@group(1) @binding(0) var<uniform> params: Params;

fn element(i: u32) {
  if (skip_flag[0] != 0u) {
    return;
  }
  let momentum = momentum_buffer[0];
  target_values[i] = momentum * target_values[i] + (1.0 - momentum) * source_values[i];
}

fn vec4_element(q: u32) {
  if (skip_flag[0] != 0u) {
    return;
  }
  let momentum = momentum_buffer[0];
  target4[q] = momentum * target4[q] + (1.0 - momentum) * source4[q];
}

fn vec4_part(q: u32, c: u32) {
  if (skip_flag[0] != 0u) {
    return;
  }
  let momentum = momentum_buffer[0];
  target4[q][c] = momentum * target4[q][c] + (1.0 - momentum) * source4[q][c];
}
