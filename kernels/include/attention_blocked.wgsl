// Shared by the blocked fused attention kernels (attention_forward, attention_backward_query,
// attention_backward_key_value): their override constants and the loads of q, k and v. The
// includer declares the storage bindings `query`, `key` and `value` (array<f32>, read).
// #include "attention_params.wgsl"

// vec4s per row of the head: ceil(d / 4) rounded up to a power of two (columns past d are zero)
override HEAD_VECS: u32 = 16u;
// invocations per workgroup (>= 8, >= HEAD_VECS)
override LANES: u32 = 16u;
// vec4s of scores per row of a tile: the tile holds 4 QUADS keys (or queries)
override QUADS: u32 = 64u;

// rows (queries, or keys for dk and dv) per workgroup
const BLOCK_ROWS: u32 = 8u;

// Columns 4 vec .. 4 vec + 3 of the row at `base` of query; zero past d.
fn load_query(base: u32, vec: u32) -> vec4f {
  let c = base + 4u * vec;
  if (4u * vec + 3u < params.d) {
    return vec4f(query[c], query[c + 1u], query[c + 2u], query[c + 3u]);
  }
  var result = vec4f(0.0);
  for (var i = 0u; 4u * vec + i < params.d && i < 4u; i++) {
    result[i] = query[c + i];
  }
  return result;
}

// Columns 4 vec .. 4 vec + 3 of the row at `base` of key; zero past d.
fn load_key(base: u32, vec: u32) -> vec4f {
  let c = base + 4u * vec;
  if (4u * vec + 3u < params.d) {
    return vec4f(key[c], key[c + 1u], key[c + 2u], key[c + 3u]);
  }
  var result = vec4f(0.0);
  for (var i = 0u; 4u * vec + i < params.d && i < 4u; i++) {
    result[i] = key[c + i];
  }
  return result;
}

// Columns 4 vec .. 4 vec + 3 of the row at `base` of value; zero past d.
fn load_value(base: u32, vec: u32) -> vec4f {
  let c = base + 4u * vec;
  if (4u * vec + 3u < params.d) {
    return vec4f(value[c], value[c + 1u], value[c + 2u], value[c + 3u]);
  }
  var result = vec4f(0.0);
  for (var i = 0u; 4u * vec + i < params.d && i < 4u; i++) {
    result[i] = value[c + i];
  }
  return result;
}
