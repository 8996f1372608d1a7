// Shared by the "rows" and "shared_rows" fused attention kernels (attention_rows.wgsl,
// attention_rows_shared.wgsl): their override constants, the layout and loads of a row
// (attention_params.wgsl, attention_vec_loads.wgsl) and small helpers. A row's HEAD_VECS vec4s
// live in private arrays of MAX_HEAD_VECS whose loops have constant bounds, so they unroll into
// registers.

override WORKGROUP_SIZE: u32 = 64u;
// vec4s per row of the head: ceil(d / 4)
override HEAD_VECS: u32 = 4u;

// #include "attention_params.wgsl"
// #include "attention_vec_loads.wgsl"
// #include "flat_index.wgsl"

const MAX_HEAD_VECS: u32 = 32u;

// The sum of the four lanes of `v`, as two pairs.
fn sum4(v: vec4f) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}
