// Last pass of gradient-norm clipping: gradient[i] *= factors[index], in place.
// One invocation per element (include/flat_main.wgsl).

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_main.wgsl"

struct Params {
  count: u32,
  index: u32,
}

@group(0) @binding(0) var<storage, read_write> gradient: array<f32>;
@group(0) @binding(1) var<storage, read> factors: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

fn element(i: u32) {
  gradient[i] = gradient[i] * factors[params.index];
}
