// Core kernels the runtime itself needs: fill, copy and in-place accumulate over flat f32 arrays.
// Element i of a launch is at global id x + y * (number of x workgroups * WORKGROUP_SIZE), so
// launches larger than 65535 workgroups spill into y.

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  count: u32,
  value: f32,
}

@group(0) @binding(0) var<storage, read_write> destination: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

fn flat_index(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * WORKGROUP_SIZE;
}

// destination[i] = value
@compute @workgroup_size(WORKGROUP_SIZE)
fn fill(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(id, groups);
  if (i < params.count) {
    destination[i] = params.value;
  }
}
