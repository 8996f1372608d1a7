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

@group(0) @binding(0) var<storage, read> query: array<f32>;
@group(0) @binding(1) var<storage, read> key: array<f32>;
@group(0) @binding(2) var<storage, read> value: array<f32>;
@group(0) @binding(3) var<storage, read> grad_output: array<f32>;
@group(0) @binding(4) var<storage, read> log_sum_exp: array<f32>;
@group(0) @binding(5) var<storage, read> delta: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_key: array<f32>;
@group(0) @binding(7) var<storage, read_write> grad_value: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

// Shaped like the blocked forward (see attention_forward.wgsl): named vec4 registers only. A workgroup of LANES invocations covers 8
// key rows of one head, with their keys (times scale * log2 e) and values in workgroup memory.
// Per tile of up to 4 QUADS queries:
//   1. invocation t takes queries 4t.., 4(t + LANES).. four at a time: p = exp2(k.q - lse) and
//      v.dO for the 8 key rows (as [8 x 4] blocks k_r * mat4x4(q..)), and stores p in
//      `probabilities` and ds = p (v.dO - delta) in `score_grads` (both [8, 4 QUADS]; zero for
//      queries past n);
//   2. invocation t < ceil(d / 4) owns columns 4t..4t+3 of the 8 dv and dk rows (16 vec4
//      accumulators) and adds mat4x4(dO..) * p_r, then mat4x4(q..) * ds_r over the tile.

var<workgroup> key_block: array<vec4f, BLOCK_ROWS * HEAD_VECS>;
var<workgroup> value_block: array<vec4f, BLOCK_ROWS * HEAD_VECS>;
var<workgroup> probabilities: array<vec4f, BLOCK_ROWS * QUADS>;
var<workgroup> score_grads: array<vec4f, BLOCK_ROWS * QUADS>;

// Writes dk (times scale) and dv of key row `row`, columns 4 vec .. 4 vec + 3 (nothing past n or
// d); with SEPARATE_VALUE_GRAD = 0 both go to grad_key (the packed gradient).
fn store_key_value(base: u32, row: u32, vec: u32, grad_k: vec4f, grad_v: vec4f) {
  if (row < params.n) {
    let row_base = base + row * params.in_row;
    for (var i = 0u; 4u * vec + i < params.d && i < 4u; i++) {
      let c = row_base + 4u * vec + i;
      grad_key[c + params.k_offset] = grad_k[i] * params.scale;
      if (SEPARATE_VALUE_GRAD != 0u) {
        grad_value[c + params.v_offset] = grad_v[i];
      } else {
        grad_key[c + params.v_offset] = grad_v[i];
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
  let out_row = params.out_row;
  let query_base = in_base + params.q_offset;

  // rows past n repeat row n - 1 (computed, never written)
  for (var index = local; index < BLOCK_ROWS * HEAD_VECS; index += LANES) {
    let row_base = in_base + min(first_row + index / HEAD_VECS, n - 1u) * in_row;
    let vec = index % HEAD_VECS;
    var k4 = vec4f(0.0);
    var v4 = vec4f(0.0);
    if (vec < vecs) {
      k4 = load_key(row_base + params.k_offset, vec) * params.scale_log2;
      v4 = load_value(row_base + params.v_offset, vec);
    }
    key_block[index] = k4;
    value_block[index] = v4;
  }
  workgroupBarrier();

  var k0 = vec4f(0.0);
  var k1 = vec4f(0.0);
  var k2 = vec4f(0.0);
  var k3 = vec4f(0.0);
  var k4 = vec4f(0.0);
  var k5 = vec4f(0.0);
  var k6 = vec4f(0.0);
  var k7 = vec4f(0.0);
  var v0 = vec4f(0.0);
  var v1 = vec4f(0.0);
  var v2 = vec4f(0.0);
  var v3 = vec4f(0.0);
  var v4 = vec4f(0.0);
  var v5 = vec4f(0.0);
  var v6 = vec4f(0.0);
  var v7 = vec4f(0.0);
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
      let q_rows = query_base + query_rows * in_row;
      let g_rows = out_base + query_rows * out_row;
      var a0 = vec4f(0.0);
      var a1 = vec4f(0.0);
      var a2 = vec4f(0.0);
      var a3 = vec4f(0.0);
      var a4 = vec4f(0.0);
      var a5 = vec4f(0.0);
      var a6 = vec4f(0.0);
      var a7 = vec4f(0.0);
      for (var v = 0u; v < vecs; v++) {
        let queries = mat4x4f(
          load_query(q_rows.x, v),
          load_query(q_rows.y, v),
          load_query(q_rows.z, v),
          load_query(q_rows.w, v),
        );
        a0 += key_block[v] * queries;
        a1 += key_block[HEAD_VECS + v] * queries;
        a2 += key_block[2u * HEAD_VECS + v] * queries;
        a3 += key_block[3u * HEAD_VECS + v] * queries;
        a4 += key_block[4u * HEAD_VECS + v] * queries;
        a5 += key_block[5u * HEAD_VECS + v] * queries;
        a6 += key_block[6u * HEAD_VECS + v] * queries;
        a7 += key_block[7u * HEAD_VECS + v] * queries;
      }
      let valid = vec4<bool>(i < n, i + 1u < n, i + 2u < n, i + 3u < n);
      let zero = vec4f(0.0);
      let p0 = select(zero, exp2(a0 - lse), valid);
      let p1 = select(zero, exp2(a1 - lse), valid);
      let p2 = select(zero, exp2(a2 - lse), valid);
      let p3 = select(zero, exp2(a3 - lse), valid);
      let p4 = select(zero, exp2(a4 - lse), valid);
      let p5 = select(zero, exp2(a5 - lse), valid);
      let p6 = select(zero, exp2(a6 - lse), valid);
      let p7 = select(zero, exp2(a7 - lse), valid);
      probabilities[g] = p0;
      probabilities[QUADS + g] = p1;
      probabilities[2u * QUADS + g] = p2;
      probabilities[3u * QUADS + g] = p3;
      probabilities[4u * QUADS + g] = p4;
      probabilities[5u * QUADS + g] = p5;
      probabilities[6u * QUADS + g] = p6;
      probabilities[7u * QUADS + g] = p7;
      a0 = vec4f(0.0);
      a1 = vec4f(0.0);
      a2 = vec4f(0.0);
      a3 = vec4f(0.0);
      a4 = vec4f(0.0);
      a5 = vec4f(0.0);
      a6 = vec4f(0.0);
      a7 = vec4f(0.0);
      for (var v = 0u; v < vecs; v++) {
        let grads = mat4x4f(
          load_grad_output(g_rows.x, v),
          load_grad_output(g_rows.y, v),
          load_grad_output(g_rows.z, v),
          load_grad_output(g_rows.w, v),
        );
        a0 += value_block[v] * grads;
        a1 += value_block[HEAD_VECS + v] * grads;
        a2 += value_block[2u * HEAD_VECS + v] * grads;
        a3 += value_block[3u * HEAD_VECS + v] * grads;
        a4 += value_block[4u * HEAD_VECS + v] * grads;
        a5 += value_block[5u * HEAD_VECS + v] * grads;
        a6 += value_block[6u * HEAD_VECS + v] * grads;
        a7 += value_block[7u * HEAD_VECS + v] * grads;
      }
      score_grads[g] = p0 * (a0 - row_delta);
      score_grads[QUADS + g] = p1 * (a1 - row_delta);
      score_grads[2u * QUADS + g] = p2 * (a2 - row_delta);
      score_grads[3u * QUADS + g] = p3 * (a3 - row_delta);
      score_grads[4u * QUADS + g] = p4 * (a4 - row_delta);
      score_grads[5u * QUADS + g] = p5 * (a5 - row_delta);
      score_grads[6u * QUADS + g] = p6 * (a6 - row_delta);
      score_grads[7u * QUADS + g] = p7 * (a7 - row_delta);
    }
    workgroupBarrier();
    // 2. dv and dk columns 4 local .. 4 local + 3 of the 8 key rows
    if (local < vecs) {
      for (var g = 0u; g < quads; g++) {
        let i = tile_start + 4u * g;
        let row0 = out_base + min(i, n - 1u) * out_row;
        let row1 = out_base + min(i + 1u, n - 1u) * out_row;
        let row2 = out_base + min(i + 2u, n - 1u) * out_row;
        let row3 = out_base + min(i + 3u, n - 1u) * out_row;
        let grads = mat4x4f(
          load_grad_output(row0, local),
          load_grad_output(row1, local),
          load_grad_output(row2, local),
          load_grad_output(row3, local),
        );
        v0 += grads * probabilities[g];
        v1 += grads * probabilities[QUADS + g];
        v2 += grads * probabilities[2u * QUADS + g];
        v3 += grads * probabilities[3u * QUADS + g];
        v4 += grads * probabilities[4u * QUADS + g];
        v5 += grads * probabilities[5u * QUADS + g];
        v6 += grads * probabilities[6u * QUADS + g];
        v7 += grads * probabilities[7u * QUADS + g];
      }
      for (var g = 0u; g < quads; g++) {
        let i = tile_start + 4u * g;
        let row0 = query_base + min(i, n - 1u) * in_row;
        let row1 = query_base + min(i + 1u, n - 1u) * in_row;
        let row2 = query_base + min(i + 2u, n - 1u) * in_row;
        let row3 = query_base + min(i + 3u, n - 1u) * in_row;
        let queries = mat4x4f(
          load_query(row0, local),
          load_query(row1, local),
          load_query(row2, local),
          load_query(row3, local),
        );
        k0 += queries * score_grads[g];
        k1 += queries * score_grads[QUADS + g];
        k2 += queries * score_grads[2u * QUADS + g];
        k3 += queries * score_grads[3u * QUADS + g];
        k4 += queries * score_grads[4u * QUADS + g];
        k5 += queries * score_grads[5u * QUADS + g];
        k6 += queries * score_grads[6u * QUADS + g];
        k7 += queries * score_grads[7u * QUADS + g];
      }
    }
    workgroupBarrier();
  }

  if (local < vecs) {
    store_key_value(in_base, first_row + 0u, local, k0, v0);
    store_key_value(in_base, first_row + 1u, local, k1, v1);
    store_key_value(in_base, first_row + 2u, local, k2, v2);
    store_key_value(in_base, first_row + 3u, local, k3, v3);
    store_key_value(in_base, first_row + 4u, local, k4, v4);
    store_key_value(in_base, first_row + 5u, local, k5, v5);
    store_key_value(in_base, first_row + 6u, local, k6, v6);
    store_key_value(in_base, first_row + 7u, local, k7, v7);
  }
}
