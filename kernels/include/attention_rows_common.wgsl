// Shared by the "rows" and "shared_rows" fused attention kernels (attention_rows.wgsl,
// attention_rows_shared.wgsl): their override constants, the layout and loads of a row
// (attention_params.wgsl, attention_vec_loads.wgsl) and small helpers (`load_scaled_query`). A
// row's HEAD_VECS vec4s live in private arrays of MAX_HEAD_VECS whose loops have constant bounds,
// so they unroll into registers.

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

// q_i of query row `row` times scale * log2 e (the scale of the base-2 scores).
fn load_scaled_query(q: ptr<function, array<vec4f, MAX_HEAD_VECS>>, bases: HeadBases, row: u32) {
  let query_row = bases.queries + row * params.in_row;
  for (var v = 0u; v < HEAD_VECS; v++) {
    (*q)[v] = load_query(query_row, v) * params.scale_log2;
  }
}
