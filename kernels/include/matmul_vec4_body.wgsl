// The register-blocked vec4 matmul (matmul/vec4.wgsl on f32 operands, matmul/vec4_f16.wgsl on
// f16; each includes its operands first), no shared memory: each invocation computes ROWS rows x
// one vec4 of output columns of one batch entry. out = act(op(a) @ op(b) + bias) + residual.
// a is [batch?, M, K], or [batch?, K, M] when TRANSPOSE_A; b is [batch?, K, N], or
// [batch?, N, K] when TRANSPOSE_B. Needs K % 4 == 0 and N % 4 == 0 (vec4 loads and stores), and
// M % 4 == 0 when TRANSPOSE_A; rows past M are clamped on load and skipped on store. Batch strides
// are in vec4 units, 0 for a shared operand. flags: 1 bias, 2 gelu, 4 residual, 8 write the
// pre-activation to `pre`.

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
override ROWS: u32 = 8u; // 4 or 8
override TRANSPOSE_A: bool = false;
override TRANSPOSE_B: bool = false;

// #include "matmul_vec4.wgsl"

// Depths 4 kk .. 4 kk + 3 of rows 4 q .. 4 q + 3 of a stored [K, M] (TRANSPOSE_A; `base` the vec4
// of depth 4 kk, column 0): column r holds row 4 q + r's four depths.
fn depthsOfA(base: u32, q: u32) -> mat4x4f {
  let m4 = params.m / 4u;
  return transpose(mat4x4f(
    a_at(base + q),
    a_at(base + m4 + q),
    a_at(base + 2u * m4 + q),
    a_at(base + 3u * m4 + q),
  ));
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let n4 = params.n / 4u;
  let k4 = params.k / 4u;
  let m4 = params.m / 4u;
  let col4 = id.x;
  let row0 = id.y * ROWS;
  let batch = id.z;
  if (col4 >= n4 || row0 >= params.m) {
    return;
  }
  let aBase = batch * params.batchStrideA;
  let bBase = batch * params.batchStrideB;
  let lastRow = params.m - 1u;
  // Rows 4..7 exist only when ROWS == 8 (a pipeline constant, so the branches fold away).
  let r0 = aBase + min(row0, lastRow) * k4;
  let r1 = aBase + min(row0 + 1u, lastRow) * k4;
  let r2 = aBase + min(row0 + 2u, lastRow) * k4;
  let r3 = aBase + min(row0 + 3u, lastRow) * k4;
  let r4 = aBase + min(row0 + 4u, lastRow) * k4;
  let r5 = aBase + min(row0 + 5u, lastRow) * k4;
  let r6 = aBase + min(row0 + 6u, lastRow) * k4;
  let r7 = aBase + min(row0 + 7u, lastRow) * k4;
  var s0 = vec4f(0.0);
  var s1 = vec4f(0.0);
  var s2 = vec4f(0.0);
  var s3 = vec4f(0.0);
  var s4 = vec4f(0.0);
  var s5 = vec4f(0.0);
  var s6 = vec4f(0.0);
  var s7 = vec4f(0.0);
  let depths = depthRange(batch, k4);
  for (var kk = depths.x; kk < depths.y; kk++) {
    let p = rowsOfB(bBase, col4, kk);
    var a0: vec4f;
    var a1: vec4f;
    var a2: vec4f;
    var a3: vec4f;
    var a4: vec4f;
    var a5: vec4f;
    var a6: vec4f;
    var a7: vec4f;
    if (TRANSPOSE_A) {
      // a is [K, M]: four depths of rows row0..row0 + 3 (and + 4..7), transposed into rows.
      let base = aBase + kk * 4u * m4;
      let q0 = row0 / 4u;
      let lo = depthsOfA(base, q0);
      a0 = lo[0];
      a1 = lo[1];
      a2 = lo[2];
      a3 = lo[3];
      if (ROWS == 8u) {
        let hi = depthsOfA(base, min(q0 + 1u, m4 - 1u));
        a4 = hi[0];
        a5 = hi[1];
        a6 = hi[2];
        a7 = hi[3];
      }
    } else {
      a0 = a_at(r0 + kk);
      a1 = a_at(r1 + kk);
      a2 = a_at(r2 + kk);
      a3 = a_at(r3 + kk);
      if (ROWS == 8u) {
        a4 = a_at(r4 + kk);
        a5 = a_at(r5 + kk);
        a6 = a_at(r6 + kk);
        a7 = a_at(r7 + kk);
      }
    }
    s0 = s0 + a0.x * p[0] + a0.y * p[1] + a0.z * p[2] + a0.w * p[3];
    s1 = s1 + a1.x * p[0] + a1.y * p[1] + a1.z * p[2] + a1.w * p[3];
    s2 = s2 + a2.x * p[0] + a2.y * p[1] + a2.z * p[2] + a2.w * p[3];
    s3 = s3 + a3.x * p[0] + a3.y * p[1] + a3.z * p[2] + a3.w * p[3];
    if (ROWS == 8u) {
      s4 = s4 + a4.x * p[0] + a4.y * p[1] + a4.z * p[2] + a4.w * p[3];
      s5 = s5 + a5.x * p[0] + a5.y * p[1] + a5.z * p[2] + a5.w * p[3];
      s6 = s6 + a6.x * p[0] + a6.y * p[1] + a6.z * p[2] + a6.w * p[3];
      s7 = s7 + a7.x * p[0] + a7.y * p[1] + a7.z * p[2] + a7.w * p[3];
    }
  }
  let acc = array<vec4f, 8>(s0, s1, s2, s3, s4, s5, s6, s7);
  let outBase = batch * params.m * n4;
  for (var r = 0u; r < ROWS; r++) {
    let row = row0 + r;
    if (row < params.m) {
      store(outBase + row * n4 + col4, col4, acc[r]);
    }
  }
}
