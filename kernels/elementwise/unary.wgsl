// Unary elementwise ops over flat f32 arrays: out = f(x).
// OP: 0 x * scalar, 1 x + scalar, 2 GELU (erf form), 3 SiLU (x * sigmoid(x)).

override WORKGROUP_SIZE: u32 = 256u;
override OP: u32 = 0u;

// #include "erf.wgsl"
// #include "flat_main.wgsl"

struct Params {
  count: u32,
  scalar: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

fn sigmoid(value: f32) -> f32 {
  return 1.0 / (1.0 + exp(-value));
}

fn element(i: u32) {
  let v = x[i];
  var result: f32;
  if (OP == 0u) {
    result = v * params.scalar;
  } else if (OP == 1u) {
    result = v + params.scalar;
  } else if (OP == 2u) {
    result = gelu(v);
  } else {
    result = v * sigmoid(v);
  }
  out[i] = result;
}
