// Scalar register-blocked matmul: each invocation computes a 4 x 4 output block with scalar loads
// addressed through element strides, so every transpose combination and every shape works
// (loads past the edge are clamped, stores skipped). No shared memory, no vec4 alignment needs.
// Element (m, k) of op(a) is a[batch * batchStrideA + m * strideAm + k * strideAk]; likewise b.
// out = act(op(a) @ op(b) + bias) + residual; flags: 1 bias, 2 gelu, 4 residual, 8 save pre.

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

// #include "erf.wgsl"
// #include "matmul_common.wgsl"
// #include "matmul_inputs.wgsl"

// matmul_common.wgsl's element: one f32 (the strides count elements).
alias Elem = f32;
fn gelu_elem(x: Elem) -> Elem {
  return gelu(x);
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
