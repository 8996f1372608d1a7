// Unary elementwise ops over flat f32 arrays: out = f(x).
// OP: 0 x * scalar, 1 x + scalar, 2 GELU (erf form), 3 SiLU (x * sigmoid(x)).
// `main`: one element per invocation (include/flat_main.wgsl). `main_vec4`: VECTORS_PER_INVOCATION
// consecutive vec4s per invocation (include/flat_vec4.wgsl; the buffers must hold whole vec4s up
// to ceil(count / 4)).

override WORKGROUP_SIZE: u32 = 256u;
override OP: u32 = 0u;

// #include "erf.wgsl"
// #include "flat_main.wgsl"
// #include "flat_vec4.wgsl"

struct Params {
  count: u32,
  scalar: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(0) var<storage, read> x4: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> out4: array<vec4f>;
@group(1) @binding(0) var<uniform> params: Params;

fn apply(v: f32) -> f32 {
  if (OP == 0u) {
    return v * params.scalar;
  }
  if (OP == 1u) {
    return v + params.scalar;
  }
  if (OP == 2u) {
    return gelu(v);
  }
  return v * (1.0 / (1.0 + exp(-v)));
}

fn element(i: u32) {
  out[i] = apply(x[i]);
}

fn vec4_element(q: u32) {
  let v = x4[q];
  out4[q] = vec4f(apply(v.x), apply(v.y), apply(v.z), apply(v.w));
}

fn vec4_part(q: u32, c: u32) {
  out4[q][c] = apply(x4[q][c]);
}
