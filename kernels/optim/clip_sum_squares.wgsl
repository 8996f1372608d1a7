// First pass of gradient-norm clipping: partial sums of squares of one flat f32 gradient.
// Workgroup w (of `parts`) sums elements w * WORKGROUP_SIZE + local + k * parts * WORKGROUP_SIZE
// and writes partials[offset + w]. Launch exactly `parts` workgroups in x.

override WORKGROUP_SIZE: u32 = 256u;

// #include "workgroup_sum.wgsl"

struct Params {
  count: u32,
  offset: u32,
  parts: u32,
}

@group(0) @binding(0) var<storage, read> gradient: array<f32>;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_index) local: u32, @builtin(workgroup_id) group: vec3u) {
  var sum = 0.0;
  let stride = params.parts * WORKGROUP_SIZE;
  for (var i = group.x * WORKGROUP_SIZE + local; i < params.count; i += stride) {
    let g = gradient[i];
    sum += g * g;
  }
  let total = workgroup_sum(local, sum);
  if (local == 0u) {
    partials[params.offset + group.x] = total;
  }
}
