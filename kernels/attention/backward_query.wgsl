// Attention backward, gradient of the query. With p = exp(scale q_i.k_j - lse_i) recomputed from the
// saved log-sum-exp: dq_i = scale * sum_j p_ij (dO_i.v_j - delta_i) k_j.
// Workgroup (x, y) covers query rows x * 8.. of head y (y = batch * heads + head). Layouts (strides
// in params) as described in include/attention_params.wgsl: q, k, v and dq at the input offsets, dO
// at the output's; log-sum-exp and delta are [B * H, N].

// #include "attention_blocked_backward.wgsl"

// Bindings 0-2 (q, k, v) and the params: include/attention_params.wgsl; 3-5 (dO, log-sum-exp,
// delta): include/attention_blocked_backward.wgsl.
@group(0) @binding(6) var<storage, read_write> grad_query: array<f32>;

// Shaped like the blocked forward (see attention/forward.wgsl): named vec4 registers only. A
// workgroup of LANES invocations covers 8 query rows of one head, with their queries (times
// scale * log2 e; block 0 of `blocks`), dO rows (block 1), log-sum-exp (base 2) and delta in
// workgroup memory. Per tile of up to 4 QUADS keys:
//   1. invocation t takes keys 4t.., 4(t + LANES).. four at a time: p = exp2(q.k - lse) and dO.v
//      for the 8 rows (as [8 x 4] blocks q_r * mat4x4(k..)), and stores ds = p (dO.v - delta) in
//      `tiles` [8, 4 QUADS] (zero for keys past n);
//   2. invocation t < ceil(d / 4) owns columns 4t..4t+3 of the 8 dq rows (8 vec4 accumulators)
//      and adds mat4x4(k_j, .., k_j+3) * ds_r over the tile's keys.

var<workgroup> blocks: array<vec4f, 2u * BLOCK_ROWS * HEAD_VECS>;
var<workgroup> tiles: array<vec4f, BLOCK_ROWS * QUADS>;
var<workgroup> row_lse: array<f32, BLOCK_ROWS>;
var<workgroup> row_delta: array<f32, BLOCK_ROWS>;

// store_rows' writer: `result` times scale to columns 4 vec .. 4 vec + 3 of dq row `row` of the
// head at `base` (nothing past n or d).
fn store_row(part: u32, base: u32, row: u32, vec: u32, result: vec4f) {
  if (row < params.n) {
    let c = base + row * params.in_row + 4u * vec;
    let scaled = result * params.scale;
    for (var i = 0u; i < columns_at(vec); i++) {
      grad_query[c + i] = scaled[i];
    }
  }
}

// ds of row r for 4 keys: p (dp - delta_r) with p = exp2(score - lse_r), zero for keys past n.
fn score_grad(score: vec4f, dp: vec4f, r: u32, valid: vec4<bool>) -> vec4f {
  let p = select(vec4f(0.0), exp2(score - row_lse[r]), valid);
  return p * (dp - row_delta[r]);
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
  // block 1: the dO rows (rows past n repeat row n - 1, computed, never written)
  for (var index = local; index < BLOCK_ROWS * HEAD_VECS; index += LANES) {
    let row = min(first_row + index / HEAD_VECS, n - 1u);
    let vec = index % HEAD_VECS;
    var g4 = vec4f(0.0);
    if (vec < vecs) {
      g4 = load_grad_output(bases.outputs + row * params.out_row, vec);
    }
    blocks[BLOCK_ROWS * HEAD_VECS + index] = g4;
  }
  if (local < BLOCK_ROWS) {
    let row = min(first_row + local, n - 1u);
    row_lse[local] = log_sum_exp[head * n + row] * LOG2_E;
    row_delta[local] = delta[head * n + row];
  }
  workgroupBarrier();

  var dq = Rows8();
  for (var tile_start = 0u; tile_start < n; tile_start += 4u * QUADS) {
    let quads = (min(4u * QUADS, n - tile_start) + 3u) / 4u;
    // 1. ds of the tile's keys, 4 at a time
    for (var g = local; g < quads; g += LANES) {
      let j = tile_start + 4u * g;
      let keys = tile_rows(bases.keys, j, in_row);
      let values = tile_rows(bases.values, j, in_row);
      var s = Rows8();
      for (var v = 0u; v < vecs; v++) {
        s = add_products(s, 0u, v, key_columns(keys, v));
      }
      var dp = Rows8();
      for (var v = 0u; v < vecs; v++) {
        dp = add_products(dp, 1u, v, value_columns(values, v));
      }
      let valid = valid_rows(j);
      store_tile(0u, g, Rows8(
        score_grad(s.r0, dp.r0, 0u, valid),
        score_grad(s.r1, dp.r1, 1u, valid),
        score_grad(s.r2, dp.r2, 2u, valid),
        score_grad(s.r3, dp.r3, 3u, valid),
        score_grad(s.r4, dp.r4, 4u, valid),
        score_grad(s.r5, dp.r5, 5u, valid),
        score_grad(s.r6, dp.r6, 6u, valid),
        score_grad(s.r7, dp.r7, 7u, valid),
      ));
    }
    workgroupBarrier();
    // 2. dq columns 4 local .. 4 local + 3 of the 8 rows
    if (local < vecs) {
      for (var g = 0u; g < quads; g++) {
        let keys = key_columns(tile_rows(bases.keys, tile_start + 4u * g, in_row), local);
        dq = add_weighted(dq, keys, 0u, g);
      }
    }
    workgroupBarrier();
  }

  if (local < vecs) {
    store_rows(0u, bases.queries, first_row, local, dq);
  }
}
