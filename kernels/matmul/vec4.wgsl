// Register-blocked vec4 matmul, no shared memory: each invocation computes ROWS rows x one vec4
// of output columns of one batch entry. out = act(op(a) @ op(b) + bias) + residual.
// a is [batch?, M, K], or [batch?, K, M] when TRANSPOSE_A; b is [batch?, K, N], or
// [batch?, N, K] when TRANSPOSE_B. Needs K % 4 == 0 and N % 4 == 0 (vec4 loads and stores), and
// M % 4 == 0 when TRANSPOSE_A; rows past M are clamped on load and skipped on store. Batch strides are in vec4 units, 0 for a
// shared operand. flags: 1 bias, 2 gelu, 4 residual, 8 write the pre-activation to `pre`.

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
override ROWS: u32 = 8u; // 4 or 8
override TRANSPOSE_A: bool = false;
override TRANSPOSE_B: bool = false;

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
  // K split: 0, or the depth of each slice (a multiple of 4); workgroup z is then the slice, the
  // batch strides are 0 and each slice writes its partial product to its own [M, N] of `out`.
  kSlice: u32,
  pad1: u32,
}

@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read> b: array<vec4f>;
@group(0) @binding(2) var<storage, read> bias: array<vec4f>;
@group(0) @binding(3) var<storage, read> residual: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> pre: array<vec4f>;
@group(1) @binding(0) var<uniform> params: Params;

// erf by Abramowitz-Stegun 7.1.26 (absolute error <= 1.5e-7).
fn erf_approx(x: vec4f) -> vec4f {
  let s = sign(x);
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return s * (1.0 - poly * exp(-z * z));
}

fn gelu(x: vec4f) -> vec4f {
  return 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752));
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
  var kFirst = 0u;
  var kEnd = k4;
  if (params.kSlice != 0u) {
    kFirst = batch * (params.kSlice / 4u);
    kEnd = min(k4, kFirst + params.kSlice / 4u);
  }
  for (var kk = kFirst; kk < kEnd; kk++) {
    var b0: vec4f;
    var b1: vec4f;
    var b2: vec4f;
    var b3: vec4f;
    if (TRANSPOSE_B) {
      // b is [N, K]: four output columns of four k each, transposed into k-major rows.
      let c0 = b[bBase + (col4 * 4u) * k4 + kk];
      let c1 = b[bBase + (col4 * 4u + 1u) * k4 + kk];
      let c2 = b[bBase + (col4 * 4u + 2u) * k4 + kk];
      let c3 = b[bBase + (col4 * 4u + 3u) * k4 + kk];
      b0 = vec4f(c0.x, c1.x, c2.x, c3.x);
      b1 = vec4f(c0.y, c1.y, c2.y, c3.y);
      b2 = vec4f(c0.z, c1.z, c2.z, c3.z);
      b3 = vec4f(c0.w, c1.w, c2.w, c3.w);
    } else {
      let bRow = bBase + kk * 4u * n4 + col4;
      b0 = b[bRow];
      b1 = b[bRow + n4];
      b2 = b[bRow + 2u * n4];
      b3 = b[bRow + 3u * n4];
    }
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
      let d0 = a[base + q0];
      let d1 = a[base + m4 + q0];
      let d2 = a[base + 2u * m4 + q0];
      let d3 = a[base + 3u * m4 + q0];
      a0 = vec4f(d0.x, d1.x, d2.x, d3.x);
      a1 = vec4f(d0.y, d1.y, d2.y, d3.y);
      a2 = vec4f(d0.z, d1.z, d2.z, d3.z);
      a3 = vec4f(d0.w, d1.w, d2.w, d3.w);
      if (ROWS == 8u) {
        let q1 = min(q0 + 1u, m4 - 1u);
        let e0 = a[base + q1];
        let e1 = a[base + m4 + q1];
        let e2 = a[base + 2u * m4 + q1];
        let e3 = a[base + 3u * m4 + q1];
        a4 = vec4f(e0.x, e1.x, e2.x, e3.x);
        a5 = vec4f(e0.y, e1.y, e2.y, e3.y);
        a6 = vec4f(e0.z, e1.z, e2.z, e3.z);
        a7 = vec4f(e0.w, e1.w, e2.w, e3.w);
      }
    } else {
      a0 = a[r0 + kk];
      a1 = a[r1 + kk];
      a2 = a[r2 + kk];
      a3 = a[r3 + kk];
      if (ROWS == 8u) {
        a4 = a[r4 + kk];
        a5 = a[r5 + kk];
        a6 = a[r6 + kk];
        a7 = a[r7 + kk];
      }
    }
    s0 = s0 + a0.x * b0 + a0.y * b1 + a0.z * b2 + a0.w * b3;
    s1 = s1 + a1.x * b0 + a1.y * b1 + a1.z * b2 + a1.w * b3;
    s2 = s2 + a2.x * b0 + a2.y * b1 + a2.z * b2 + a2.w * b3;
    s3 = s3 + a3.x * b0 + a3.y * b1 + a3.z * b2 + a3.w * b3;
    if (ROWS == 8u) {
      s4 = s4 + a4.x * b0 + a4.y * b1 + a4.z * b2 + a4.w * b3;
      s5 = s5 + a5.x * b0 + a5.y * b1 + a5.z * b2 + a5.w * b3;
      s6 = s6 + a6.x * b0 + a6.y * b1 + a6.z * b2 + a6.w * b3;
      s7 = s7 + a7.x * b0 + a7.y * b1 + a7.z * b2 + a7.w * b3;
    }
  }
  let acc = array<vec4f, 8>(s0, s1, s2, s3, s4, s5, s6, s7);
  let outBase = batch * params.m * n4;
  for (var r = 0u; r < ROWS; r++) {
    let row = row0 + r;
    if (row < params.m) {
      let index = outBase + row * n4 + col4;
      var value = acc[r];
      if ((params.flags & 1u) != 0u) {
        value = value + bias[col4];
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
  }
}
