// Shared by the "tiled" fused attention kernels (attention/tiled_*): a workgroup of WORKGROUP_SIZE
// invocations covers rows of one head (workgroup (x, y): head y = batch * heads + h), and tiles of
// KEY_TILE rows of the other operand (keys and values; or queries and dO for dk and dv) go through
// workgroup memory, which every invocation then reads at the same address (uniform reads:
// broadcasts on GPUs, and the cheapest loads on llvmpipe). Each invocation keeps its own rows in
// registers (HEAD_VECS vec4s each: HEAD_VECS is an override, so the column loops unroll) and
// works on the tile 8 rows at a time, as two mat4x4 of 4 rows: 8 dot products per row for 8 tile
// reads, then 8 multiply-adds per row for 8 more. No subgroup operations. The includer's
// `tile_row` names what the tiles hold (see fill_tiles).
// #include "attention_team.wgsl"

// vec4s per row: ceil(d / 4)
override HEAD_VECS: u32 = 16u;
// rows of a tile (a multiple of 8)
override KEY_TILE: u32 = 32u;

const MAX_HEAD_VECS: u32 = 32u;

var<workgroup> tile_a: array<vec4f, KEY_TILE * HEAD_VECS>;
var<workgroup> tile_b: array<vec4f, KEY_TILE * HEAD_VECS>;

// Fills tile_a and tile_b with rows tile .. tile + KEY_TILE - 1 of the streamed operand (rows past
// n repeat row n - 1), the workgroup's invocations sharing the loads. The rows are the includer's:
// `tile_row(which, bases, row, v)` returns vec4 `v` of row `row` of what goes into tile_a
// (which 0) or tile_b (which 1). Call between workgroup barriers.
fn fill_tiles(bases: HeadBases, tile: u32, local: u32) {
  for (var index = local; index < KEY_TILE * HEAD_VECS; index += WORKGROUP_SIZE) {
    let row = clamp_row(tile + index / HEAD_VECS);
    let v = index % HEAD_VECS;
    tile_a[index] = tile_row(0u, bases, row, v);
    tile_b[index] = tile_row(1u, bases, row, v);
  }
}

// Rows chunk .. chunk + 3 (+ 4 with `second`) of tile `which` (0: tile_a, 1: tile_b) at vec4 `v`,
// one row per matrix column.
fn tile_matrix(which: u32, chunk: u32, v: u32, second: bool) -> mat4x4f {
  let at = (chunk + select(0u, 4u, second)) * HEAD_VECS + v;
  if (which == 0u) {
    return mat4x4f(tile_a[at], tile_a[at + HEAD_VECS], tile_a[at + 2u * HEAD_VECS], tile_a[at + 3u * HEAD_VECS]);
  }
  return mat4x4f(tile_b[at], tile_b[at + HEAD_VECS], tile_b[at + 2u * HEAD_VECS], tile_b[at + 3u * HEAD_VECS]);
}

// Which of the tile rows first .. first + 3 lie inside n.
fn inside(first: u32) -> vec4<bool> {
  let n = params.n;
  return vec4<bool>(first < n, first + 1u < n, first + 2u < n, first + 3u < n);
}

// The largest of 4.
fn largest4(values: vec4f) -> f32 {
  return max(max(values.x, values.y), max(values.z, values.w));
}
