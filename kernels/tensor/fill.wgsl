// Core kernels the runtime itself needs: fill over flat 32-bit arrays. Invocation i of a launch is
// at flat_index i (include/flat_index.wgsl). `fill`: one element per invocation, any buffer.
// `fill_vec4`: VECTORS_PER_INVOCATION consecutive vec4s per invocation; the buffer must hold whole
// vec4s up to ceil(count / 4) (pooled buffers do); the elements past count in the last vec4 are
// left alone.

override WORKGROUP_SIZE: u32 = 256u;
override VECTORS_PER_INVOCATION: u32 = 4u;

// #include "flat_index.wgsl"

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
  let first = flat_index(id, groups) * VECTORS_PER_INVOCATION;
  let whole = params.count / 4u;
  let value = vec4f(params.value);
  for (var q = first; q < min(first + VECTORS_PER_INVOCATION, whole); q++) {
    destination4[q] = value;
  }
  let rest = params.count % 4u;
  if (rest != 0u && whole >= first && whole < first + VECTORS_PER_INVOCATION) {
    for (var c = 0u; c < rest; c++) {
      destination4[whole][c] = params.value;
    }
  }
}
