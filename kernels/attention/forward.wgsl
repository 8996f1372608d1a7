// Fused attention forward (flash style): out = softmax(q k^T * scale) v over the key axis, with the
// per-row log-sum-exp of the scaled scores saved for the backward. The N x N scores are never stored.
// Workgroup (x, y) covers query rows x * 8.. of head y (y = batch * heads + head). Layouts (strides
// in params) as described in include/attention_params.wgsl; the log-sum-exp is [B * H, N].

// #include "attention_blocked.wgsl"

// Bindings 0-2 (q, k, v): include/attention_inputs.wgsl; 3 (the output, written by store_output):
// include/attention_output.wgsl; the params: include/attention_params.wgsl.
// #include "attention_output.wgsl"
@group(0) @binding(4) var<storage, read_write> log_sum_exp: array<f32>;

// Shaped like the register-blocked vec4 matmul so that SIMD-over-invocations adapters (llvmpipe)
// run it well: no runtime-indexed private arrays, every invocation's state is named vec4 registers
// (Rows8). A workgroup of LANES invocations (LANES >= 8, >= HEAD_VECS) covers 8 query rows of one
// head; their queries (times scale * log2 e) sit in workgroup memory (`blocks`). Per tile of up to
// 4 QUADS keys:
//   1. scores: invocation t computes the [8 rows x 4 keys] blocks 4t.., 4(t + LANES).. as
//      q_r * mat4x4(k_j, .., k_j+3) (8 vec4 accumulators, 128 FMAs per 12 vec4 loads) into
//      `tiles` [8, 4 QUADS] (workgroup memory; keys past n get a large negative score);
//   2. softmax: invocation r < 8 rescales row r online (running max and sum), turns its scores
//      into exponentials and leaves the correction of the older accumulators in `row_scale`;
//   3. mix: invocation t < ceil(d / 4) owns columns 4t..4t+3 of the 8 output rows (8 vec4
//      accumulators) and adds mat4x4(v_j, .., v_j+3) * p_r over the tile's keys, 4 at a time.
// Only a [8, 4 QUADS] block of scores is ever stored (N x N never is).

var<workgroup> blocks: array<vec4f, BLOCK_ROWS * HEAD_VECS>;
var<workgroup> tiles: array<vec4f, BLOCK_ROWS * QUADS>;
var<workgroup> row_scale: array<f32, BLOCK_ROWS>;

// store_rows' writer: `result` to columns 4 vec .. 4 vec + 3 of output row `row` of the head at
// `base` (nothing past n or d).
fn store_row(part: u32, base: u32, row: u32, vec: u32, result: vec4f) {
  if (row < params.n) {
    store_output(base + row * params.out_row, vec, result);
  }
}

// The rows' scores, or a large negative score for the keys past n.
fn masked(scores: Rows8, valid: vec4<bool>) -> Rows8 {
  let low = vec4f(NEGATIVE_LARGE);
  return Rows8(
    select(low, scores.r0, valid),
    select(low, scores.r1, valid),
    select(low, scores.r2, valid),
    select(low, scores.r3, valid),
    select(low, scores.r4, valid),
    select(low, scores.r5, valid),
    select(low, scores.r6, valid),
    select(low, scores.r7, valid),
  );
}

// Each row times its `row_scale`.
fn scaled(rows: Rows8) -> Rows8 {
  return Rows8(
    rows.r0 * row_scale[0],
    rows.r1 * row_scale[1],
    rows.r2 * row_scale[2],
    rows.r3 * row_scale[3],
    rows.r4 * row_scale[4],
    rows.r5 * row_scale[5],
    rows.r6 * row_scale[6],
    rows.r7 * row_scale[7],
  );
}

@compute @workgroup_size(LANES)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) local: u32) {
  let n = params.n;
  let vecs = (params.d + 3u) / 4u;
  let head = group.y;
  let first_row = group.x * BLOCK_ROWS;
  let bases = head_bases(head);
  let in_row = params.in_row;

  load_query_block(local, first_row, bases.queries);
  workgroupBarrier();

  var running_max = NEGATIVE_LARGE;
  var running_sum = 0.0;
  var o = Rows8();
  for (var tile_start = 0u; tile_start < n; tile_start += 4u * QUADS) {
    let quads = (min(4u * QUADS, n - tile_start) + 3u) / 4u;
    // 1. scores of the tile's keys, 4 at a time
    for (var g = local; g < quads; g += LANES) {
      let j = tile_start + 4u * g;
      let keys = tile_rows(bases.keys, j, in_row);
      var scores = Rows8();
      for (var v = 0u; v < vecs; v++) {
        scores = add_products(scores, 0u, v, key_columns(keys, v));
      }
      store_tile(0u, g, masked(scores, valid_rows(j)));
    }
    workgroupBarrier();
    // 2. online softmax of row `local`
    if (local < BLOCK_ROWS) {
      let base = local * QUADS;
      var max4 = vec4f(running_max);
      for (var g = 0u; g < quads; g++) {
        max4 = max(max4, tiles[base + g]);
      }
      let tile_max = max(max(max4.x, max4.y), max(max4.z, max4.w));
      var sum4 = vec4f(0.0);
      for (var g = 0u; g < quads; g++) {
        let p = exp2(tiles[base + g] - tile_max);
        tiles[base + g] = p;
        sum4 += p;
      }
      let correction = exp2(running_max - tile_max);
      running_sum = running_sum * correction + ((sum4.x + sum4.y) + (sum4.z + sum4.w));
      running_max = tile_max;
      row_scale[local] = correction;
    }
    workgroupBarrier();
    // 3. output columns 4 local .. 4 local + 3 of the 8 rows
    if (local < vecs) {
      o = scaled(o);
      for (var g = 0u; g < quads; g++) {
        let values = value_columns(tile_rows(bases.values, tile_start + 4u * g, in_row), local);
        o = add_weighted(o, values, 0u, g);
      }
    }
    workgroupBarrier();
  }

  if (local < BLOCK_ROWS) {
    row_scale[local] = 1.0 / running_sum;
    let row = first_row + local;
    if (row < n) {
      // natural-log log-sum-exp of the scaled scores
      log_sum_exp[head * n + row] = (running_max + log2(running_sum)) * 0.6931471805599453;
    }
  }
  workgroupBarrier();
  if (local < vecs) {
    store_rows(0u, bases.outputs, first_row, local, scaled(o));
  }
}
