// Shared by the "tiled" kernels whose invocations own 2 query rows and stream the keys
// (attention/tiled_forward, tiled_backward_query): the tiles hold keys (tile_a) and values
// (tile_b); each invocation keeps its query rows (times scale * log2 e) in registers and takes the
// scores of a chunk of 8 keys at a time.
// #include "attention_tiled.wgsl"

// What the tiles hold: keys (which 0) and values (which 1).
fn tile_row(which: u32, bases: HeadBases, row: u32, v: u32) -> vec4f {
  if (which == 0u) {
    return load_key(bases.keys + row * params.in_row, v);
  }
  return load_value(bases.values + row * params.in_row, v);
}

// Query row `row` (clamped to n - 1) of the head at `bases` times scale * log2 e.
fn scaled_query(bases: HeadBases, row: u32) -> array<vec4f, MAX_HEAD_VECS> {
  var q: array<vec4f, MAX_HEAD_VECS>;
  for (var v = 0u; v < HEAD_VECS; v++) {
    q[v] = load_query(bases.queries + clamp_row(row) * params.in_row, v) * params.scale_log2;
  }
  return q;
}

// The dot products of two rows (`low` and `high`) with the 8 rows of a chunk of a tile: `a_*` with
// rows chunk .. chunk + 3, `b_*` with rows chunk + 4 .. chunk + 7.
struct ChunkDots {
  a_low: vec4f,
  b_low: vec4f,
  a_high: vec4f,
  b_high: vec4f,
}

// The dot products of rows `low` and `high` with rows chunk .. chunk + 7 of tile `which`
// (0: tile_a, 1: tile_b).
fn chunk_dots(
  which: u32,
  low: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  high: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  chunk: u32,
) -> ChunkDots {
  var dots: ChunkDots;
  for (var v = 0u; v < HEAD_VECS; v++) {
    let a = tile_matrix(which, chunk, v, false);
    let b = tile_matrix(which, chunk, v, true);
    dots.a_low += (*low)[v] * a;
    dots.b_low += (*low)[v] * b;
    dots.a_high += (*high)[v] * a;
    dots.b_high += (*high)[v] * b;
  }
  return dots;
}
