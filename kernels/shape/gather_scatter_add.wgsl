// Gradient of gatherRows without float atomics: destination[r, c] = sum of source[k, c] over
// every k with indices[k] == r, walking the chain first[r] -> next[k] -> ... (-1 ends it; at most
// `indices` steps). One invocation per element (include/flat_main.wgsl).

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_main.wgsl"

struct Params {
  count: u32,
  columns: u32,
  indices: u32,
}

@group(0) @binding(0) var<storage, read_write> destination: array<f32>;
@group(0) @binding(1) var<storage, read> source: array<f32>;
@group(0) @binding(2) var<storage, read> first: array<i32>;
@group(0) @binding(3) var<storage, read> next: array<i32>;
@group(1) @binding(0) var<uniform> params: Params;

fn element(i: u32) {
  let r = i / params.columns;
  let c = i - r * params.columns;
  var k = first[r];
  var sum = 0.0;
  for (var step = 0u; step < params.indices && k >= 0; step++) {
    sum += source[u32(k) * params.columns + c];
    k = next[u32(k)];
  }
  destination[i] = sum;
}
