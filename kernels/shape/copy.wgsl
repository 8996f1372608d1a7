// Block copy between two row-major arrays of 32-bit elements (any dtype): for each of `outer`
// blocks of `inner` consecutive elements,
//   destination[o * destination_stride + destination_offset + r] = source[o * source_stride + source_offset + r].
// Serves concat, slice and their gradients. `main`: one invocation per element
// (include/flat_main.wgsl). `runs`: one invocation per part of `chunk` consecutive elements of a
// block (`parts` parts per block), so the block index is divided out once per part, not once per
// element; invocation t of its launch is at global id x + y * (number of x workgroups *
// WORKGROUP_SIZE).

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_main.wgsl"

struct Params {
  count: u32,
  inner: u32,
  source_stride: u32, source_offset: u32,
  destination_stride: u32, destination_offset: u32,
  chunk: u32, parts: u32,
}

@group(0) @binding(0) var<storage, read_write> destination: array<u32>;
@group(0) @binding(1) var<storage, read> source: array<u32>;
@group(1) @binding(0) var<uniform> params: Params;

fn element(i: u32) {
  let o = i / params.inner;
  let r = i - o * params.inner;
  destination[o * params.destination_stride + params.destination_offset + r] =
    source[o * params.source_stride + params.source_offset + r];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn runs(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let t = id.x + id.y * groups.x * WORKGROUP_SIZE;
  let o = t / params.parts;
  let part = t - o * params.parts;
  if (o * params.inner >= params.count) {
    return;
  }
  let first = part * params.chunk;
  let last = min(params.inner, first + params.chunk);
  let source_base = o * params.source_stride + params.source_offset;
  let destination_base = o * params.destination_stride + params.destination_offset;
  for (var r = first; r < last; r++) {
    destination[destination_base + r] = source[source_base + r];
  }
}
