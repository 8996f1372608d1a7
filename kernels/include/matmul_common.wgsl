// Shared by the matmul kernels (matmul/scalar, tiled, vec4, subgroup): the uniform parameters
// (12 u32 words, written by src/ops/matmul), the bindings of the bias, residual and outputs, and
// the epilogue. The operands a and b (bindings 0 and 1) come from matmul_inputs.wgsl (f32) or
// matmul_inputs_f16.wgsl (f16, vec4 kernels).
// out = act(op(a) @ op(b) + bias) + residual; flags: 1 bias, 2 gelu, 4 residual, 8 save pre
// (write the pre-activation to `pre`).
// The includer declares `alias Elem = f32;` or `alias Elem = vec4f;` (what one element of the
// bindings holds: a vec4 kernel loads and stores 4 columns at a time; its strides count vec4s
// where its header says so) and `fn gelu_elem(x: Elem) -> Elem` (gelu or gelu4 of erf.wgsl);
// matmul_vec4.wgsl declares both for the vec4 kernels.

struct Params {
  m: u32, n: u32, k: u32,
  flags: u32,
  batchStrideA: u32, batchStrideB: u32,
  strideAm: u32, strideAk: u32,
  strideBk: u32, strideBn: u32,
  // K split (vec4 and subgroup kernels; 0 for the others): 0, or the depth of each slice (a
  // multiple of 4); workgroup z is then the slice, the batch strides are 0 and each slice writes
  // its partial product to its own [M, N] of `out`.
  kSlice: u32,
  pad1: u32,
}

@group(0) @binding(2) var<storage, read> bias: array<Elem>;
@group(0) @binding(3) var<storage, read> residual: array<Elem>;
@group(0) @binding(4) var<storage, read_write> out: array<Elem>;
@group(0) @binding(5) var<storage, read_write> pre: array<Elem>;
@group(1) @binding(0) var<uniform> params: Params;

// The bias of column (or vec4 of columns) `col`, zero without one (flag 1).
fn bias_of(col: u32) -> Elem {
  if ((params.flags & 1u) != 0u) {
    return bias[col];
  }
  return Elem();
}

// Writes element `index` of out, of column (or vec4 of columns) `col`, with the epilogue:
// act(sum + bias) + residual.
fn store(index: u32, col: u32, sum: Elem) {
  store_with_bias(index, sum, bias_of(col));
}

// `store` with the column's bias given (`bias_of`), for a kernel that stores several rows of a
// column: loaded once, not once a row (a load goes lane by lane on llvmpipe).
fn store_with_bias(index: u32, sum: Elem, column_bias: Elem) {
  var value = sum;
  if ((params.flags & 1u) != 0u) {
    value = value + column_bias;
  }
  if ((params.flags & 2u) != 0u) {
    if ((params.flags & 8u) != 0u) {
      pre[index] = value;
    }
    value = gelu_elem(value);
  }
  if ((params.flags & 4u) != 0u) {
    value = value + residual[index];
  }
  out[index] = value;
}
