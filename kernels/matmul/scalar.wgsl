// Scalar register-blocked matmul: each invocation computes a 4 x 4 output block with scalar loads
// addressed through element strides, so every transpose combination and every shape works
// (loads past the edge are clamped, stores skipped). No shared memory, no vec4 alignment needs.
// Element (m, k) of op(a) is a[batch * batchStrideA + m * strideAm + k * strideAk]; likewise b.
// out = act(op(a) @ op(b) + bias) + residual; flags: 1 bias, 2 gelu, 4 residual, 8 save pre.

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

struct Params {
  m: u32,
  n: u32,
  k: u32,
  flags: u32,
  batchStrideA: u32,
  batchStrideB: u32,
  strideAm: u32,
  strideAk: u32,
  strideBk: u32,
  strideBn: u32,
  pad0: u32,
  pad1: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> residual: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> pre: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

// erf by Abramowitz-Stegun 7.1.26 (absolute error <= 1.5e-7).
fn erf_approx(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(x) * (1.0 - poly * exp(-z * z));
}

fn gelu(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752));
}

// Writes one output element with the epilogue: act(value + bias) + residual.
fn store(index: u32, col: u32, sum: f32) {
  var value = sum;
  if ((params.flags & 1u) != 0u) {
    value = value + bias[col];
  }
  if ((params.flags & 2u) != 0u) {
    if ((params.flags & 8u) != 0u) {
      pre[index] = value;
    }
    value = gelu(value);
  }
  if ((params.flags & 4u) != 0u) {
    value = value + residual[index];
  }
  out[index] = value;
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let col0 = id.x * 4u;
  let row0 = id.y * 4u;
  let batch = id.z;
  if (col0 >= params.n || row0 >= params.m) {
    return;
  }
  let aBase = batch * params.batchStrideA;
  let bBase = batch * params.batchStrideB;
  var aOffset: array<u32, 4>;
  var bOffset: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    aOffset[i] = aBase + min(row0 + i, params.m - 1u) * params.strideAm;
    bOffset[i] = bBase + min(col0 + i, params.n - 1u) * params.strideBn;
  }
  var acc: array<vec4f, 4>;
  for (var i = 0u; i < 4u; i++) {
    acc[i] = vec4f(0.0);
  }
  for (var kk = 0u; kk < params.k; kk++) {
    let ak = kk * params.strideAk;
    let bk = kk * params.strideBk;
    let bv = vec4f(b[bOffset[0] + bk], b[bOffset[1] + bk], b[bOffset[2] + bk], b[bOffset[3] + bk]);
    acc[0] = acc[0] + a[aOffset[0] + ak] * bv;
    acc[1] = acc[1] + a[aOffset[1] + ak] * bv;
    acc[2] = acc[2] + a[aOffset[2] + ak] * bv;
    acc[3] = acc[3] + a[aOffset[3] + ak] * bv;
  }
  let outBase = batch * params.m * params.n;
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + i;
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + j;
      if (row < params.m && col < params.n) {
        store(outBase + row * params.n + col, col, acc[i][j]);
      }
    }
  }
}
