// Core kernels the runtime itself needs: fill over flat 32-bit arrays. Invocation i of a launch is
// at flat_index i (include/flat_index.wgsl). `fill`: one element per invocation, any buffer.
// `fill_vec4`: VECTORS_PER_INVOCATION consecutive vec4s per invocation (include/flat_vec4.wgsl;
// the buffer must hold whole vec4s up to ceil(count / 4)).

override WORKGROUP_SIZE: u32 = 256u;
override VECTORS_PER_INVOCATION: u32 = 4u;

// #include "flat_vec4.wgsl"

struct Params {
  count: u32,
  value: f32,
}

@group(0) @binding(0) var<storage, read_write> destination: array<f32>;
@group(0) @binding(0) var<storage, read_write> destination4: array<vec4f>;
@group(1) @binding(0) var<uniform> params: Params;

// destination[i] = value
@compute @workgroup_size(WORKGROUP_SIZE)
fn fill(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(id, groups);
  if (i < params.count) {
    destination[i] = params.value;
  }
}

// destination[i] = value, four elements at a time
@compute @workgroup_size(WORKGROUP_SIZE)
fn fill_vec4(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  flat_vec4(id, groups);
}

fn vec4_element(q: u32) {
  destination4[q] = vec4f(params.value);
}

fn vec4_part(q: u32, c: u32) {
  destination4[q][c] = params.value;
}
