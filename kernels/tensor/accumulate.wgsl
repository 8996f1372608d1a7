// destination[i] += scale * source[i] over flat f32 arrays: gradient accumulation and in-place
// updates. `main`: one element per invocation (include/flat_main.wgsl), any buffers.
// `main_vec4`: VECTORS_PER_INVOCATION consecutive vec4s per invocation (include/flat_vec4.wgsl;
// both buffers must hold whole vec4s up to ceil(count / 4)).

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_main.wgsl"
// #include "flat_vec4.wgsl"

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

fn vec4_element(q: u32) {
  destination4[q] = destination4[q] + params.scale * source4[q];
}

fn vec4_part(q: u32, c: u32) {
  destination4[q][c] = destination4[q][c] + params.scale * source4[q][c];
}
