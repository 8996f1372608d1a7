// Shared by the matmul kernels whose bindings hold vec4f (matmul/vec4, matmul/subgroup; K % 4 == 0
// and N % 4 == 0): matmul_common.wgsl with Elem = vec4f, the loads of B (through b_at of
// matmul_inputs.wgsl or matmul_inputs_f16.wgsl, which the includer includes) and the K split. The
// includer declares `override TRANSPOSE_B: bool` (b is stored [batch?, N, K]).
// #include "erf.wgsl"
// #include "matmul_common.wgsl"

// matmul_common.wgsl's element: a vec4f, 4 consecutive columns of a row.
alias Elem = vec4f;
fn gelu_elem(x: Elem) -> Elem {
  return gelu4(x);
}

// Rows b_at(4 kk .. 4 kk + 3) at the columns of vec4 `col4` (k-major, whatever the layout); `base4`
// is the offset of b's batch entry in vec4s.
fn rowsOfB(base4: u32, col4: u32, kk: u32) -> array<vec4f, 4> {
  let n4 = params.n / 4u;
  let k4 = params.k / 4u;
  if (TRANSPOSE_B) {
    // b is [N, K]: four output columns of four k each, transposed into k-major rows.
    let c0 = b_at(base4 + (col4 * 4u) * k4 + kk);
    let c1 = b_at(base4 + (col4 * 4u + 1u) * k4 + kk);
    let c2 = b_at(base4 + (col4 * 4u + 2u) * k4 + kk);
    let c3 = b_at(base4 + (col4 * 4u + 3u) * k4 + kk);
    return array<vec4f, 4>(
      vec4f(c0.x, c1.x, c2.x, c3.x),
      vec4f(c0.y, c1.y, c2.y, c3.y),
      vec4f(c0.z, c1.z, c2.z, c3.z),
      vec4f(c0.w, c1.w, c2.w, c3.w),
    );
  }
  let at = base4 + kk * 4u * n4 + col4;
  return array<vec4f, 4>(b_at(at), b_at(at + n4), b_at(at + 2u * n4), b_at(at + 3u * n4));
}

// The vec4 depths [x, y) (4 k each) that workgroup z = `slice` multiplies: all k4 = K / 4 of them,
// or with a K split (kSlice != 0) slice `slice`'s kSlice / 4.
fn depthRange(slice: u32, k4: u32) -> vec2u {
  if (params.kSlice == 0u) {
    return vec2u(0u, k4);
  }
  let first = slice * (params.kSlice / 4u);
  return vec2u(first, min(k4, first + params.kSlice / 4u));
}
