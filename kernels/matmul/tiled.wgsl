// Workgroup-tiled matmul through shared memory: a workgroup of WG_X x WG_Y invocations computes a
// (4 WG_Y) x (4 WG_X) output tile, each invocation a 4 x 4 block, stepping through K in slices
// of TILE_K staged in workgroup memory. Operands are addressed through element strides, so every
// transpose combination and every shape works (out-of-range elements load as zero).
// Element (m, k) of op(a) is a[batch * batchStrideA + m * strideAm + k * strideAk]; likewise b.
// out = act(op(a) @ op(b) + bias) + residual; flags: 1 bias, 2 gelu, 4 residual, 8 save pre.

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
override TILE_K: u32 = 16u;

// #include "erf.wgsl"
// #include "matmul_common.wgsl"
// #include "matmul_inputs.wgsl"

// matmul_common.wgsl's element: one f32 (the strides count elements).
alias Elem = f32;
fn gelu_elem(x: Elem) -> Elem {
  return gelu(x);
}

// tileA[kk * WG_Y + ty] holds rows 4 ty .. 4 ty + 3 of the tile at depth kk; tileB likewise columns.
var<workgroup> tileA: array<vec4f, TILE_K * WG_Y>;
var<workgroup> tileB: array<vec4f, TILE_K * WG_X>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(
  @builtin(workgroup_id) group: vec3u,
  @builtin(local_invocation_id) local: vec3u,
  @builtin(local_invocation_index) localIndex: u32,
) {
  let tileM = 4u * WG_Y;
  let tileN = 4u * WG_X;
  let rowBase = group.y * tileM;
  let colBase = group.x * tileN;
  let batch = group.z;
  let aBase = batch * params.batchStrideA;
  let bBase = batch * params.batchStrideB;
  let threads = WG_X * WG_Y;
  var acc: array<vec4f, 4>;
  for (var i = 0u; i < 4u; i++) {
    acc[i] = vec4f(0.0);
  }
  for (var k0 = 0u; k0 < params.k; k0 += TILE_K) {
    for (var e = localIndex; e < tileM * TILE_K; e += threads) {
      let mm = e % tileM;
      let kk = e / tileM;
      let row = rowBase + mm;
      let depth = k0 + kk;
      var value = 0.0;
      if (row < params.m && depth < params.k) {
        value = a[aBase + row * params.strideAm + depth * params.strideAk];
      }
      tileA[kk * WG_Y + mm / 4u][mm % 4u] = value;
    }
    for (var e = localIndex; e < tileN * TILE_K; e += threads) {
      let nn = e % tileN;
      let kk = e / tileN;
      let col = colBase + nn;
      let depth = k0 + kk;
      var value = 0.0;
      if (col < params.n && depth < params.k) {
        value = b[bBase + depth * params.strideBk + col * params.strideBn];
      }
      tileB[kk * WG_X + nn / 4u][nn % 4u] = value;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TILE_K; kk++) {
      let av = tileA[kk * WG_Y + local.y];
      let bv = tileB[kk * WG_X + local.x];
      acc[0] = acc[0] + av.x * bv;
      acc[1] = acc[1] + av.y * bv;
      acc[2] = acc[2] + av.z * bv;
      acc[3] = acc[3] + av.w * bv;
    }
    workgroupBarrier();
  }
  let outBase = batch * params.m * params.n;
  for (var i = 0u; i < 4u; i++) {
    let row = rowBase + local.y * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let col = colBase + local.x * 4u + j;
      if (row < params.m && col < params.n) {
        store(outBase + row * params.n + col, col, acc[i][j]);
      }
    }
  }
}
