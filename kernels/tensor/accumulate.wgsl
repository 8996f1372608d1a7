// destination[i] += scale * source[i] over flat f32 arrays: gradient accumulation and in-place
// updates. Invocation i of a launch is at global id x + y * (number of x workgroups *
// WORKGROUP_SIZE). `main`: one element per invocation (include/flat_main.wgsl), any buffers.
// `main_vec4`: VECTORS_PER_INVOCATION consecutive vec4s per invocation; both buffers must hold
// whole vec4s up to ceil(count / 4) (pooled buffers do); the elements past count in the last vec4
// are left alone.

override WORKGROUP_SIZE: u32 = 256u;
override VECTORS_PER_INVOCATION: u32 = 4u;

// #include "flat_main.wgsl"

struct Params {
  count: u32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read_write> destination: array<f32>;
@group(0) @binding(1) var<storage, read> source: array<f32>;
@group(0) @binding(0) var<storage, read_write> destination4: array<vec4f>;
@group(0) @binding(1) var<storage, read> source4: array<vec4f>;
@group(1) @binding(0) var<uniform> params: Params;

fn element(i: u32) {
  destination[i] = destination[i] + params.scale * source[i];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main_vec4(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = (id.x + id.y * groups.x * WORKGROUP_SIZE) * VECTORS_PER_INVOCATION;
  let whole = params.count / 4u;
  for (var q = first; q < min(first + VECTORS_PER_INVOCATION, whole); q++) {
    destination4[q] = destination4[q] + params.scale * source4[q];
  }
  let rest = params.count % 4u;
  if (rest != 0u && whole >= first && whole < first + VECTORS_PER_INVOCATION) {
    for (var c = 0u; c < rest; c++) {
      destination4[whole][c] = destination4[whole][c] + params.scale * source4[whole][c];
    }
  }
}
