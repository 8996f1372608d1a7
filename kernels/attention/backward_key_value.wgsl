// Attention backward, gradients of the keys and values. With p = exp(scale q_i.k_j - lse_i)
// recomputed from the saved log-sum-exp: dv_j = sum_i p_ij dO_i and
// dk_j = scale * sum_i p_ij (dO_i.v_j - delta_i) q_i.
// Workgroup (x, y) covers key rows x * 8.. of head y (y = batch * heads + head). No atomics: each
// key row is written by the one workgroup that owns it.
// Layouts (strides in params) as described in include/attention_params.wgsl: q, k, v, dk and dv at
// the input offsets, dO at the output's; log-sum-exp and delta are [B * H, N].
// With SEPARATE_VALUE_GRAD = 0 (packed qkv) dk and dv both go to grad_key (one [B, N, 3 D] gradient,
// at offsets k_offset and v_offset) and grad_value is a placeholder that is never written: one
// writable binding per buffer (WebGPU forbids aliasing a writable binding).

override SEPARATE_VALUE_GRAD: u32 = 1u;

// #include "attention_blocked_backward.wgsl"

// Bindings 0-2 (q, k, v) and the params: include/attention_params.wgsl; 3-5 (dO, log-sum-exp,
// delta): include/attention_blocked_backward.wgsl.
@group(0) @binding(6) var<storage, read_write> grad_key: array<f32>;
@group(0) @binding(7) var<storage, read_write> grad_value: array<f32>;

// Shaped like the blocked forward (see attention/forward.wgsl): named vec4 registers only. A
// workgroup of LANES invocations covers 8 key rows of one head, with their keys (times
// scale * log2 e; block 0 of `blocks`) and values (block 1) in workgroup memory. Per tile of up to
// 4 QUADS queries:
//   1. invocation t takes queries 4t.., 4(t + LANES).. four at a time: p = exp2(k.q - lse) and
//      v.dO for the 8 key rows (as [8 x 4] blocks k_r * mat4x4(q..)), and stores p in tile 0 and
//      ds = p (v.dO - delta) in tile 1 of `tiles` (both [8, 4 QUADS]; zero for queries past n);
//   2. invocation t < ceil(d / 4) owns columns 4t..4t+3 of the 8 dv and dk rows (16 vec4
//      accumulators) and adds mat4x4(dO..) * p_r, then mat4x4(q..) * ds_r over the tile.

var<workgroup> blocks: array<vec4f, 2u * BLOCK_ROWS * HEAD_VECS>;
var<workgroup> tiles: array<vec4f, 2u * BLOCK_ROWS * QUADS>;

// store_rows' writer: `result` to columns 4 vec .. 4 vec + 3 of key row `row` of the head's dk
// (part 0, times scale) or dv (part 1) at `base` (nothing past n or d); with
// SEPARATE_VALUE_GRAD = 0 both go to grad_key (the packed gradient).
fn store_row(part: u32, base: u32, row: u32, vec: u32, result: vec4f) {
  if (row < params.n) {
    let c = base + row * params.in_row + 4u * vec;
    for (var i = 0u; i < columns_at(vec); i++) {
      if (part == 0u) {
        grad_key[c + i] = result[i] * params.scale;
      } else if (SEPARATE_VALUE_GRAD != 0u) {
        grad_value[c + i] = result[i];
      } else {
        grad_key[c + i] = result[i];
      }
    }
  }
}

// p of 4 queries for each row: exp2(score - lse), zero for queries past n.
fn probabilities(scores: Rows8, lse: vec4f, valid: vec4<bool>) -> Rows8 {
  let zero = vec4f(0.0);
  return Rows8(
    select(zero, exp2(scores.r0 - lse), valid),
    select(zero, exp2(scores.r1 - lse), valid),
    select(zero, exp2(scores.r2 - lse), valid),
    select(zero, exp2(scores.r3 - lse), valid),
    select(zero, exp2(scores.r4 - lse), valid),
    select(zero, exp2(scores.r5 - lse), valid),
    select(zero, exp2(scores.r6 - lse), valid),
    select(zero, exp2(scores.r7 - lse), valid),
  );
}

// ds of 4 queries for each row: p (dp - delta).
fn score_grads(p: Rows8, dp: Rows8, delta4: vec4f) -> Rows8 {
  return Rows8(
    p.r0 * (dp.r0 - delta4),
    p.r1 * (dp.r1 - delta4),
    p.r2 * (dp.r2 - delta4),
    p.r3 * (dp.r3 - delta4),
    p.r4 * (dp.r4 - delta4),
    p.r5 * (dp.r5 - delta4),
    p.r6 * (dp.r6 - delta4),
    p.r7 * (dp.r7 - delta4),
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
  let out_row = params.out_row;

  // rows past n repeat row n - 1 (computed, never written)
  for (var index = local; index < BLOCK_ROWS * HEAD_VECS; index += LANES) {
    let row = min(first_row + index / HEAD_VECS, n - 1u);
    let vec = index % HEAD_VECS;
    var k4 = vec4f(0.0);
    var v4 = vec4f(0.0);
    if (vec < vecs) {
      k4 = load_key(bases.keys + row * in_row, vec) * params.scale_log2;
      v4 = load_value(bases.values + row * in_row, vec);
    }
    blocks[index] = k4;
    blocks[BLOCK_ROWS * HEAD_VECS + index] = v4;
  }
  workgroupBarrier();

  var dk = Rows8();
  var dv = Rows8();
  for (var tile_start = 0u; tile_start < n; tile_start += 4u * QUADS) {
    let quads = (min(4u * QUADS, n - tile_start) + 3u) / 4u;
    // 1. p and ds of the tile's queries, 4 at a time
    for (var g = local; g < quads; g += LANES) {
      let i = tile_start + 4u * g;
      let last = n - 1u;
      let query_rows = vec4u(min(i, last), min(i + 1u, last), min(i + 2u, last), min(i + 3u, last));
      let lse = vec4f(
        log_sum_exp[head * n + query_rows.x],
        log_sum_exp[head * n + query_rows.y],
        log_sum_exp[head * n + query_rows.z],
        log_sum_exp[head * n + query_rows.w],
      ) * LOG2_E;
      let row_delta = vec4f(
        delta[head * n + query_rows.x],
        delta[head * n + query_rows.y],
        delta[head * n + query_rows.z],
        delta[head * n + query_rows.w],
      );
      let q_rows = bases.queries + query_rows * in_row;
      let g_rows = bases.outputs + query_rows * out_row;
      var s = Rows8();
      for (var v = 0u; v < vecs; v++) {
        s = add_products(s, 0u, v, query_columns(q_rows, v));
      }
      let p = probabilities(s, lse, valid_rows(i));
      store_tile(0u, g, p);
      var dp = Rows8();
      for (var v = 0u; v < vecs; v++) {
        dp = add_products(dp, 1u, v, grad_output_columns(g_rows, v));
      }
      store_tile(1u, g, score_grads(p, dp, row_delta));
    }
    workgroupBarrier();
    // 2. dv and dk columns 4 local .. 4 local + 3 of the 8 key rows
    if (local < vecs) {
      for (var g = 0u; g < quads; g++) {
        let grad_rows = tile_rows(bases.outputs, tile_start + 4u * g, out_row);
        let grads = grad_output_columns(grad_rows, local);
        dv = add_weighted(dv, grads, 0u, g);
      }
      for (var g = 0u; g < quads; g++) {
        let queries = query_columns(tile_rows(bases.queries, tile_start + 4u * g, in_row), local);
        dk = add_weighted(dk, queries, 1u, g);
      }
    }
    workgroupBarrier();
  }

  if (local < vecs) {
    store_rows(0u, bases.keys, first_row, local, dk);
    store_rows(1u, bases.values, first_row, local, dv);
  }
}
