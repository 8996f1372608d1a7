// Fused attention forward (flash style): out = softmax(q k^T * scale) v over the key axis, with the
// per-row log-sum-exp of the scaled scores saved for the backward. The N x N scores are never stored.
// Workgroup (x, y) covers query rows x * 8.. of head y (y = batch * heads + head). Layouts (strides
// in params) as described in include/attention_params.wgsl; the log-sum-exp is [B * H, N].

// #include "attention_blocked.wgsl"

@group(0) @binding(0) var<storage, read> query: array<f32>;
@group(0) @binding(1) var<storage, read> key: array<f32>;
@group(0) @binding(2) var<storage, read> value: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;
@group(0) @binding(4) var<storage, read_write> log_sum_exp: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

// Shaped like the register-blocked vec4 matmul so that SIMD-over-invocations adapters (llvmpipe)
// run it well: no runtime-indexed private arrays, every invocation's state is named vec4 registers. A workgroup of LANES invocations
// (LANES >= 8, >= HEAD_VECS) covers 8 query rows of one head; their queries (times
// scale * log2 e) sit in workgroup memory. Per tile of up to 4 QUADS keys:
//   1. scores: invocation t computes the [8 rows x 4 keys] blocks 4t.., 4(t + LANES).. as
//      q_r * mat4x4(k_j, .., k_j+3) (8 vec4 accumulators, 128 FMAs per 12 vec4 loads) into
//      `scores` [8, 4 QUADS] (workgroup memory; keys past n get a large negative score);
//   2. softmax: invocation r < 8 rescales row r online (running max and sum), turns its scores
//      into exponentials and leaves the correction of the older accumulators in `row_scale`;
//   3. mix: invocation t < ceil(d / 4) owns columns 4t..4t+3 of the 8 output rows (8 vec4
//      accumulators) and adds mat4x4(v_j, .., v_j+3) * p_r over the tile's keys, 4 at a time.
// Only a [8, 4 QUADS] block of scores is ever stored (N x N never is).

var<workgroup> query_block: array<vec4f, BLOCK_ROWS * HEAD_VECS>;
var<workgroup> scores: array<vec4f, BLOCK_ROWS * QUADS>;
var<workgroup> row_scale: array<f32, BLOCK_ROWS>;

// Writes `result` to columns 4 vec .. 4 vec + 3 of output row `row` (nothing past n or d).
fn store_output(out_base: u32, row: u32, vec: u32, result: vec4f) {
  if (row < params.n) {
    let c = out_base + row * params.out_row + 4u * vec;
    if (4u * vec + 3u < params.d) {
      output[c] = result.x;
      output[c + 1u] = result.y;
      output[c + 2u] = result.z;
      output[c + 3u] = result.w;
    } else {
      for (var i = 0u; 4u * vec + i < params.d && i < 4u; i++) {
        output[c + i] = result[i];
      }
    }
  }
}

@compute @workgroup_size(LANES)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) local: u32) {
  let n = params.n;
  let vecs = (params.d + 3u) / 4u;
  let head = group.y;
  let first_row = group.x * BLOCK_ROWS;
  let in_base = input_base(head);
  let out_base = output_base(head);
  let in_row = params.in_row;
  let key_base = in_base + params.k_offset;
  let value_base = in_base + params.v_offset;

  // rows past n repeat row n - 1 (computed, never written)
  for (var index = local; index < BLOCK_ROWS * HEAD_VECS; index += LANES) {
    let row = min(first_row + index / HEAD_VECS, n - 1u);
    let vec = index % HEAD_VECS;
    var q4 = vec4f(0.0);
    if (vec < vecs) {
      q4 = load_query(in_base + params.q_offset + row * in_row, vec) * params.scale_log2;
    }
    query_block[index] = q4;
  }
  workgroupBarrier();

  var running_max = NEGATIVE_LARGE;
  var running_sum = 0.0;
  var o0 = vec4f(0.0);
  var o1 = vec4f(0.0);
  var o2 = vec4f(0.0);
  var o3 = vec4f(0.0);
  var o4 = vec4f(0.0);
  var o5 = vec4f(0.0);
  var o6 = vec4f(0.0);
  var o7 = vec4f(0.0);
  for (var tile_start = 0u; tile_start < n; tile_start += 4u * QUADS) {
    let quads = (min(4u * QUADS, n - tile_start) + 3u) / 4u;
    // 1. scores of the tile's keys, 4 at a time
    for (var g = local; g < quads; g += LANES) {
      let j = tile_start + 4u * g;
      let row0 = key_base + min(j, n - 1u) * in_row;
      let row1 = key_base + min(j + 1u, n - 1u) * in_row;
      let row2 = key_base + min(j + 2u, n - 1u) * in_row;
      let row3 = key_base + min(j + 3u, n - 1u) * in_row;
      var a0 = vec4f(0.0);
      var a1 = vec4f(0.0);
      var a2 = vec4f(0.0);
      var a3 = vec4f(0.0);
      var a4 = vec4f(0.0);
      var a5 = vec4f(0.0);
      var a6 = vec4f(0.0);
      var a7 = vec4f(0.0);
      for (var v = 0u; v < vecs; v++) {
        let keys = mat4x4f(
          load_key(row0, v),
          load_key(row1, v),
          load_key(row2, v),
          load_key(row3, v),
        );
        a0 += query_block[v] * keys;
        a1 += query_block[HEAD_VECS + v] * keys;
        a2 += query_block[2u * HEAD_VECS + v] * keys;
        a3 += query_block[3u * HEAD_VECS + v] * keys;
        a4 += query_block[4u * HEAD_VECS + v] * keys;
        a5 += query_block[5u * HEAD_VECS + v] * keys;
        a6 += query_block[6u * HEAD_VECS + v] * keys;
        a7 += query_block[7u * HEAD_VECS + v] * keys;
      }
      let valid = vec4<bool>(j < n, j + 1u < n, j + 2u < n, j + 3u < n);
      let masked = vec4f(NEGATIVE_LARGE);
      scores[g] = select(masked, a0, valid);
      scores[QUADS + g] = select(masked, a1, valid);
      scores[2u * QUADS + g] = select(masked, a2, valid);
      scores[3u * QUADS + g] = select(masked, a3, valid);
      scores[4u * QUADS + g] = select(masked, a4, valid);
      scores[5u * QUADS + g] = select(masked, a5, valid);
      scores[6u * QUADS + g] = select(masked, a6, valid);
      scores[7u * QUADS + g] = select(masked, a7, valid);
    }
    workgroupBarrier();
    // 2. online softmax of row `local`
    if (local < BLOCK_ROWS) {
      let base = local * QUADS;
      var max4 = vec4f(running_max);
      for (var g = 0u; g < quads; g++) {
        max4 = max(max4, scores[base + g]);
      }
      let tile_max = max(max(max4.x, max4.y), max(max4.z, max4.w));
      var sum4 = vec4f(0.0);
      for (var g = 0u; g < quads; g++) {
        let p = exp2(scores[base + g] - tile_max);
        scores[base + g] = p;
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
      o0 *= row_scale[0];
      o1 *= row_scale[1];
      o2 *= row_scale[2];
      o3 *= row_scale[3];
      o4 *= row_scale[4];
      o5 *= row_scale[5];
      o6 *= row_scale[6];
      o7 *= row_scale[7];
      for (var g = 0u; g < quads; g++) {
        let j = tile_start + 4u * g;
        let row0 = value_base + min(j, n - 1u) * in_row;
        let row1 = value_base + min(j + 1u, n - 1u) * in_row;
        let row2 = value_base + min(j + 2u, n - 1u) * in_row;
        let row3 = value_base + min(j + 3u, n - 1u) * in_row;
        let values = mat4x4f(
          load_value(row0, local),
          load_value(row1, local),
          load_value(row2, local),
          load_value(row3, local),
        );
        o0 += values * scores[g];
        o1 += values * scores[QUADS + g];
        o2 += values * scores[2u * QUADS + g];
        o3 += values * scores[3u * QUADS + g];
        o4 += values * scores[4u * QUADS + g];
        o5 += values * scores[5u * QUADS + g];
        o6 += values * scores[6u * QUADS + g];
        o7 += values * scores[7u * QUADS + g];
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
    store_output(out_base, first_row + 0u, local, o0 * row_scale[0]);
    store_output(out_base, first_row + 1u, local, o1 * row_scale[1]);
    store_output(out_base, first_row + 2u, local, o2 * row_scale[2]);
    store_output(out_base, first_row + 3u, local, o3 * row_scale[3]);
    store_output(out_base, first_row + 4u, local, o4 * row_scale[4]);
    store_output(out_base, first_row + 5u, local, o5 * row_scale[5]);
    store_output(out_base, first_row + 6u, local, o6 * row_scale[6]);
    store_output(out_base, first_row + 7u, local, o7 * row_scale[7]);
  }
}
