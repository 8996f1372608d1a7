// Last pass of gradient-norm clipping: gradient[i] *= factors[index], in place.
// Element i of a launch is at global id x + y * (number of x workgroups * WORKGROUP_SIZE).

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  count: u32,
  index: u32,
}

@group(0) @binding(0) var<storage, read_write> gradient: array<f32>;
@group(0) @binding(1) var<storage, read> factors: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (i < params.count) {
    gradient[i] = gradient[i] * factors[params.index];
  }
}
