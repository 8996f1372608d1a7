// The operands of a vec4 matmul kernel stored as f16 (see matmul_common.wgsl): four halves in two
// 32-bit words per vec4, widened to f32 as they are read (unpack2x16float: core WGSL, exact, no
// shader-f16 needed), so the products and sums stay in f32. Indices count vec4s as with f32.

@group(0) @binding(0) var<storage, read> a: array<vec2u>;
@group(0) @binding(1) var<storage, read> b: array<vec2u>;

// The 4 halves of vec4 `index` of a, as f32.
fn a_at(index: u32) -> vec4f {
  let words = a[index];
  return vec4f(unpack2x16float(words.x), unpack2x16float(words.y));
}

// The 4 halves of vec4 `index` of b, as f32.
fn b_at(index: u32) -> vec4f {
  let words = b[index];
  return vec4f(unpack2x16float(words.x), unpack2x16float(words.y));
}
