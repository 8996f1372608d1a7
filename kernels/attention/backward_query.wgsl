// Attention backward, gradient of the query. With p = exp(scale q_i.k_j - lse_i) recomputed from the
// saved log-sum-exp: dq_i = scale * sum_j p_ij (dO_i.v_j - delta_i) k_j.
// Workgroup (x, y) covers query rows x * 8.. of head y (y = batch * heads + head). Layouts (strides
// in params) as described in include/attention_params.wgsl: q, k, v and dq at the input offsets, dO
// at the output's; log-sum-exp and delta are [B * H, N].

// #include "attention_blocked_backward.wgsl"

@group(0) @binding(0) var<storage, read> query: array<f32>;
@group(0) @binding(1) var<storage, read> key: array<f32>;
@group(0) @binding(2) var<storage, read> value: array<f32>;
@group(0) @binding(3) var<storage, read> grad_output: array<f32>;
@group(0) @binding(4) var<storage, read> log_sum_exp: array<f32>;
@group(0) @binding(5) var<storage, read> delta: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_query: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

// Shaped like the blocked forward (see attention_forward.wgsl): named vec4 registers only. A workgroup of LANES invocations covers 8
// query rows of one head, with their queries (times scale * log2 e), dO rows, log-sum-exp (base 2)
// and delta in workgroup memory. Per tile of up to 4 QUADS keys:
//   1. invocation t takes keys 4t.., 4(t + LANES).. four at a time: p = exp2(q.k - lse) and dO.v
//      for the 8 rows (as [8 x 4] blocks q_r * mat4x4(k..)), and stores ds = p (dO.v - delta) in
//      `scores` [8, 4 QUADS] (zero for keys past n);
//   2. invocation t < ceil(d / 4) owns columns 4t..4t+3 of the 8 dq rows (8 vec4 accumulators)
//      and adds mat4x4(k_j, .., k_j+3) * ds_r over the tile's keys.

var<workgroup> query_block: array<vec4f, BLOCK_ROWS * HEAD_VECS>;
var<workgroup> grad_output_block: array<vec4f, BLOCK_ROWS * HEAD_VECS>;
var<workgroup> row_lse: array<f32, BLOCK_ROWS>;
var<workgroup> row_delta: array<f32, BLOCK_ROWS>;
var<workgroup> scores: array<vec4f, BLOCK_ROWS * QUADS>;

// Writes `result` to columns 4 vec .. 4 vec + 3 of dq row `row` (nothing past n or d).
fn store_grad_query(base: u32, row: u32, vec: u32, result: vec4f) {
  if (row < params.n) {
    let c = base + row * params.in_row + 4u * vec;
    if (4u * vec + 3u < params.d) {
      grad_query[c] = result.x;
      grad_query[c + 1u] = result.y;
      grad_query[c + 2u] = result.z;
      grad_query[c + 3u] = result.w;
    } else {
      for (var i = 0u; 4u * vec + i < params.d && i < 4u; i++) {
        grad_query[c + i] = result[i];
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
    var g4 = vec4f(0.0);
    if (vec < vecs) {
      q4 = load_query(in_base + params.q_offset + row * in_row, vec) * params.scale_log2;
      g4 = load_grad_output(out_base + row * params.out_row, vec);
    }
    query_block[index] = q4;
    grad_output_block[index] = g4;
  }
  if (local < BLOCK_ROWS) {
    let row = min(first_row + local, n - 1u);
    row_lse[local] = log_sum_exp[head * n + row] * LOG2_E;
    row_delta[local] = delta[head * n + row];
  }
  workgroupBarrier();

  var g0 = vec4f(0.0);
  var g1 = vec4f(0.0);
  var g2 = vec4f(0.0);
  var g3 = vec4f(0.0);
  var g4 = vec4f(0.0);
  var g5 = vec4f(0.0);
  var g6 = vec4f(0.0);
  var g7 = vec4f(0.0);
  for (var tile_start = 0u; tile_start < n; tile_start += 4u * QUADS) {
    let quads = (min(4u * QUADS, n - tile_start) + 3u) / 4u;
    // 1. ds of the tile's keys, 4 at a time
    for (var g = local; g < quads; g += LANES) {
      let j = tile_start + 4u * g;
      let row0 = min(j, n - 1u) * in_row;
      let row1 = min(j + 1u, n - 1u) * in_row;
      let row2 = min(j + 2u, n - 1u) * in_row;
      let row3 = min(j + 3u, n - 1u) * in_row;
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
          load_key(key_base + row0, v),
          load_key(key_base + row1, v),
          load_key(key_base + row2, v),
          load_key(key_base + row3, v),
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
      let zero = vec4f(0.0);
      let p0 = select(zero, exp2(a0 - row_lse[0]), valid);
      let p1 = select(zero, exp2(a1 - row_lse[1]), valid);
      let p2 = select(zero, exp2(a2 - row_lse[2]), valid);
      let p3 = select(zero, exp2(a3 - row_lse[3]), valid);
      let p4 = select(zero, exp2(a4 - row_lse[4]), valid);
      let p5 = select(zero, exp2(a5 - row_lse[5]), valid);
      let p6 = select(zero, exp2(a6 - row_lse[6]), valid);
      let p7 = select(zero, exp2(a7 - row_lse[7]), valid);
      a0 = vec4f(0.0);
      a1 = vec4f(0.0);
      a2 = vec4f(0.0);
      a3 = vec4f(0.0);
      a4 = vec4f(0.0);
      a5 = vec4f(0.0);
      a6 = vec4f(0.0);
      a7 = vec4f(0.0);
      for (var v = 0u; v < vecs; v++) {
        let values = mat4x4f(
          load_value(value_base + row0, v),
          load_value(value_base + row1, v),
          load_value(value_base + row2, v),
          load_value(value_base + row3, v),
        );
        a0 += grad_output_block[v] * values;
        a1 += grad_output_block[HEAD_VECS + v] * values;
        a2 += grad_output_block[2u * HEAD_VECS + v] * values;
        a3 += grad_output_block[3u * HEAD_VECS + v] * values;
        a4 += grad_output_block[4u * HEAD_VECS + v] * values;
        a5 += grad_output_block[5u * HEAD_VECS + v] * values;
        a6 += grad_output_block[6u * HEAD_VECS + v] * values;
        a7 += grad_output_block[7u * HEAD_VECS + v] * values;
      }
      scores[g] = p0 * (a0 - row_delta[0]);
      scores[QUADS + g] = p1 * (a1 - row_delta[1]);
      scores[2u * QUADS + g] = p2 * (a2 - row_delta[2]);
      scores[3u * QUADS + g] = p3 * (a3 - row_delta[3]);
      scores[4u * QUADS + g] = p4 * (a4 - row_delta[4]);
      scores[5u * QUADS + g] = p5 * (a5 - row_delta[5]);
      scores[6u * QUADS + g] = p6 * (a6 - row_delta[6]);
      scores[7u * QUADS + g] = p7 * (a7 - row_delta[7]);
    }
    workgroupBarrier();
    // 2. dq columns 4 local .. 4 local + 3 of the 8 rows
    if (local < vecs) {
      for (var g = 0u; g < quads; g++) {
        let j = tile_start + 4u * g;
        let row0 = key_base + min(j, n - 1u) * in_row;
        let row1 = key_base + min(j + 1u, n - 1u) * in_row;
        let row2 = key_base + min(j + 2u, n - 1u) * in_row;
        let row3 = key_base + min(j + 3u, n - 1u) * in_row;
        let keys = mat4x4f(
          load_key(row0, local),
          load_key(row1, local),
          load_key(row2, local),
          load_key(row3, local),
        );
        g0 += keys * scores[g];
        g1 += keys * scores[QUADS + g];
        g2 += keys * scores[2u * QUADS + g];
        g3 += keys * scores[3u * QUADS + g];
        g4 += keys * scores[4u * QUADS + g];
        g5 += keys * scores[5u * QUADS + g];
        g6 += keys * scores[6u * QUADS + g];
        g7 += keys * scores[7u * QUADS + g];
      }
    }
    workgroupBarrier();
  }

  if (local < vecs) {
    let base = in_base + params.q_offset;
    let scale = params.scale;
    store_grad_query(base, first_row + 0u, local, g0 * scale);
    store_grad_query(base, first_row + 1u, local, g1 * scale);
    store_grad_query(base, first_row + 2u, local, g2 * scale);
    store_grad_query(base, first_row + 3u, local, g3 * scale);
    store_grad_query(base, first_row + 4u, local, g4 * scale);
    store_grad_query(base, first_row + 5u, local, g5 * scale);
    store_grad_query(base, first_row + 6u, local, g6 * scale);
    store_grad_query(base, first_row + 7u, local, g7 * scale);
  }
}
