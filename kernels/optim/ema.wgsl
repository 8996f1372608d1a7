// Exponential moving average in place over flat f32 arrays:
//   target = momentum * target + (1 - momentum) * source,  momentum = momentum_buffer[0].
// The momentum is read from a storage buffer (one upload per step) so uniforms stay cached.
// Element i of a launch is at global id x + y * (number of x workgroups * WORKGROUP_SIZE).

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  count: u32,
}

@group(0) @binding(0) var<storage, read_write> target_values: array<f32>;
@group(0) @binding(1) var<storage, read> source_values: array<f32>;
@group(0) @binding(2) var<storage, read> momentum_buffer: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (i < params.count) {
    let momentum = momentum_buffer[0];
    target_values[i] = momentum * target_values[i] + (1.0 - momentum) * source_values[i];
  }
}
