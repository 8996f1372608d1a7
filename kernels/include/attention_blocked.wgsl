// Shared by the blocked fused attention kernels (attention/forward, backward_query,
// backward_key_value): their override constants, the loads of q, k and v, and the pieces of their
// loops over tiles of 4 QUADS keys (or queries), 4 at a time. A workgroup works on BLOCK_ROWS = 8
// rows; what it keeps of each row is a vec4 per row in `Rows8` (named fields: registers, never a
// runtime-indexed private array). The includer declares the workgroup arrays
//   `blocks: array<vec4f, B * BLOCK_ROWS * HEAD_VECS>`: B blocks of its 8 rows (block b, row r,
//     vec4 v at b * BLOCK_ROWS * HEAD_VECS + r * HEAD_VECS + v), and
//   `tiles: array<vec4f, T * BLOCK_ROWS * QUADS>`: T tiles of [8 rows, 4 QUADS] scores (tile t,
//     row r, vec4 g at t * BLOCK_ROWS * QUADS + r * QUADS + g),
// and `fn store_row(part: u32, base: u32, row: u32, vec: u32, result: vec4f)` (what `store_rows`
// calls: write `result` to columns 4 vec .. 4 vec + 3 of row `row`; `part` and `base` are the
// includer's, such as which gradient and the head's offset).
// #include "attention_params.wgsl"

// vec4s per row of the head: ceil(d / 4) rounded up to a power of two (columns past d are zero)
override HEAD_VECS: u32 = 16u;
// invocations per workgroup (>= 8, >= HEAD_VECS)
override LANES: u32 = 16u;
// vec4s of scores per row of a tile: the tile holds 4 QUADS keys (or queries)
override QUADS: u32 = 64u;

// #include "attention_vec_loads.wgsl"

// rows (queries, or keys for dk and dv) per workgroup
const BLOCK_ROWS: u32 = 8u;

// Columns of vec4 `vec` of a row that lie inside d (4 but in the last vec4).
fn columns_at(vec: u32) -> u32 {
  return min(4u, params.d - 4u * vec);
}

// Fills block 0 of `blocks` with the 8 query rows first_row.. (times scale * log2 e) from the
// head's q at `queries`, as invocation `local` of LANES. Rows past n repeat row n - 1 (computed,
// never written); columns past d are zero.
fn load_query_block(local: u32, first_row: u32, queries: u32) {
  for (var index = local; index < BLOCK_ROWS * HEAD_VECS; index += LANES) {
    let row = min(first_row + index / HEAD_VECS, params.n - 1u);
    let vec = index % HEAD_VECS;
    var q4 = vec4f(0.0);
    if (vec < (params.d + 3u) / 4u) {
      q4 = load_query(queries + row * params.in_row, vec) * params.scale_log2;
    }
    blocks[index] = q4;
  }
}

// Offsets of rows first .. first + 3 (clamped to n - 1) of a tensor at `base` with row stride
// `stride`.
fn tile_rows(base: u32, first: u32, stride: u32) -> vec4u {
  let last = params.n - 1u;
  let rows = min(vec4u(first, first + 1u, first + 2u, first + 3u), vec4u(last));
  return base + rows * stride;
}

// Which of the rows first .. first + 3 lie inside n.
fn valid_rows(first: u32) -> vec4<bool> {
  let n = params.n;
  return vec4<bool>(first < n, first + 1u < n, first + 2u < n, first + 3u < n);
}

// Columns 4 vec .. 4 vec + 3 of the 4 query rows at `rows`, one row per matrix column.
fn query_columns(rows: vec4u, vec: u32) -> mat4x4f {
  return mat4x4f(load_query(rows.x, vec), load_query(rows.y, vec), load_query(rows.z, vec), load_query(rows.w, vec));
}

// Likewise of 4 key rows.
fn key_columns(rows: vec4u, vec: u32) -> mat4x4f {
  return mat4x4f(load_key(rows.x, vec), load_key(rows.y, vec), load_key(rows.z, vec), load_key(rows.w, vec));
}

// Likewise of 4 value rows.
fn value_columns(rows: vec4u, vec: u32) -> mat4x4f {
  return mat4x4f(load_value(rows.x, vec), load_value(rows.y, vec), load_value(rows.z, vec), load_value(rows.w, vec));
}

// A vec4 for each of the 8 rows of a block.
struct Rows8 {
  r0: vec4f,
  r1: vec4f,
  r2: vec4f,
  r3: vec4f,
  r4: vec4f,
  r5: vec4f,
  r6: vec4f,
  r7: vec4f,
}

// `acc` plus the [8 x 4] products of the 8 rows of block `block` (their vec4 `v`) with the 4
// columns of `m`: 4 dot products per row.
fn add_products(acc: Rows8, block: u32, v: u32, m: mat4x4f) -> Rows8 {
  let at = block * BLOCK_ROWS * HEAD_VECS + v;
  return Rows8(
    acc.r0 + blocks[at] * m,
    acc.r1 + blocks[at + HEAD_VECS] * m,
    acc.r2 + blocks[at + 2u * HEAD_VECS] * m,
    acc.r3 + blocks[at + 3u * HEAD_VECS] * m,
    acc.r4 + blocks[at + 4u * HEAD_VECS] * m,
    acc.r5 + blocks[at + 5u * HEAD_VECS] * m,
    acc.r6 + blocks[at + 6u * HEAD_VECS] * m,
    acc.r7 + blocks[at + 7u * HEAD_VECS] * m,
  );
}

// `acc` plus `m` times the 8 rows' vec4 `g` of tile `tile`: 4 rows of m (one per column of the
// score vec4) weighted by the scores, for each row.
fn add_weighted(acc: Rows8, m: mat4x4f, tile: u32, g: u32) -> Rows8 {
  let at = tile * BLOCK_ROWS * QUADS + g;
  return Rows8(
    acc.r0 + m * tiles[at],
    acc.r1 + m * tiles[at + QUADS],
    acc.r2 + m * tiles[at + 2u * QUADS],
    acc.r3 + m * tiles[at + 3u * QUADS],
    acc.r4 + m * tiles[at + 4u * QUADS],
    acc.r5 + m * tiles[at + 5u * QUADS],
    acc.r6 + m * tiles[at + 6u * QUADS],
    acc.r7 + m * tiles[at + 7u * QUADS],
  );
}

// Writes the 8 rows' vec4 `g` of tile `tile`.
fn store_tile(tile: u32, g: u32, rows: Rows8) {
  let at = tile * BLOCK_ROWS * QUADS + g;
  tiles[at] = rows.r0;
  tiles[at + QUADS] = rows.r1;
  tiles[at + 2u * QUADS] = rows.r2;
  tiles[at + 3u * QUADS] = rows.r3;
  tiles[at + 4u * QUADS] = rows.r4;
  tiles[at + 5u * QUADS] = rows.r5;
  tiles[at + 6u * QUADS] = rows.r6;
  tiles[at + 7u * QUADS] = rows.r7;
}

// Hands the vec4 `vec` of rows first_row .. first_row + 7 to the includer's store_row.
fn store_rows(part: u32, base: u32, first_row: u32, vec: u32, rows: Rows8) {
  store_row(part, base, first_row, vec, rows.r0);
  store_row(part, base, first_row + 1u, vec, rows.r1);
  store_row(part, base, first_row + 2u, vec, rows.r2);
  store_row(part, base, first_row + 3u, vec, rows.r3);
  store_row(part, base, first_row + 4u, vec, rows.r4);
  store_row(part, base, first_row + 5u, vec, rows.r5);
  store_row(part, base, first_row + 6u, vec, rows.r6);
  store_row(part, base, first_row + 7u, vec, rows.r7);
}
