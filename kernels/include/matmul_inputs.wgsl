// The operands of a matmul kernel stored as f32 (see matmul_common.wgsl): a and b of the
// includer's Elem (f32, or vec4f for the vec4 kernels), read through a_at / b_at.

@group(0) @binding(0) var<storage, read> a: array<Elem>;
@group(0) @binding(1) var<storage, read> b: array<Elem>;

// Element `index` of a (in Elem units).
fn a_at(index: u32) -> Elem {
  return a[index];
}

// Element `index` of b (in Elem units).
fn b_at(index: u32) -> Elem {
  return b[index];
}
