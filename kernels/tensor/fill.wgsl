// Core kernels the runtime itself needs: fill over flat 32-bit arrays, destination[i] = value
// (binding destination, written). `main`: one element per invocation (include/flat_main.wgsl), any
// buffer. `main_vec4`: VECTORS_PER_INVOCATION consecutive vec4s per invocation
// (include/flat_vec4.wgsl; the buffer must hold whole vec4s up to ceil(count / 4)).

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_main.wgsl"
// #include "flat_vec4.wgsl"

struct Params {
  count: u32,
  value: f32,
}

@group(0) @binding(0) var<storage, read_write> destination: array<f32>;
@group(0) @binding(0) var<storage, read_write> destination4: array<vec4f>;
@group(1) @binding(0) var<uniform> params: Params;

fn element(i: u32) {
  destination[i] = params.value;
}

fn vec4_element(q: u32) {
  destination4[q] = vec4f(params.value);
}

fn vec4_part(q: u32, c: u32) {
  destination4[q][c] = params.value;
}
