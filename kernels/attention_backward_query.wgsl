// Attention backward, gradient of the query. With p = exp(scale q_i.k_j - lse_i) recomputed from the
// saved log-sum-exp: dq_i = scale * sum_j p_ij (dO_i.v_j - delta_i) k_j. Each invocation owns BLOCK
// query rows and holds their q_i, dO_i and dq_i accumulators (HEAD_VECS vec4s each) in registers;
// the workgroup stages KEY_TILE keys and values at a time in workgroup memory.
// Workgroup (x, y) covers rows x * ROWS * BLOCK.. of head y (y = batch * heads + head).
// Layouts come as strides (params), as in attention_forward.wgsl: element (b, h, row, c) of q, k, v
// and of their gradients is at offset + b * in_batch + h * in_head + row * in_row + c, of dO at
// b * out_batch + h * out_head + row * out_row + c; log-sum-exp and delta are [B * H, N].

override ROWS: u32 = 16u;
override BLOCK: u32 = 4u;
override KEY_TILE: u32 = 32u;
override HEAD_VECS: u32 = 16u;

const MAX_HEAD_VECS: u32 = 32u;
const MAX_BLOCK: u32 = 4u;
const LOG2_E: f32 = 1.4426950408889634;

struct Params {
  batch_heads: u32,
  n: u32,
  d: u32,
  heads: u32,
  scale: f32,
  scale_log2: f32,
  q_offset: u32,
  k_offset: u32,
  v_offset: u32,
  in_batch: u32,
  in_head: u32,
  in_row: u32,
  out_batch: u32,
  out_head: u32,
  out_row: u32,
  padding: u32,
}

@group(0) @binding(0) var<storage, read> query: array<f32>;
@group(0) @binding(1) var<storage, read> key: array<f32>;
@group(0) @binding(2) var<storage, read> value: array<f32>;
@group(0) @binding(3) var<storage, read> grad_output: array<f32>;
@group(0) @binding(4) var<storage, read> log_sum_exp: array<f32>;
@group(0) @binding(5) var<storage, read> delta: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_query: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

var<workgroup> legacy_key_tile: array<vec4f, KEY_TILE * HEAD_VECS>;
var<workgroup> legacy_value_tile: array<vec4f, KEY_TILE * HEAD_VECS>;

// Columns 4 * vec .. 4 * vec + 3 of the row at `base` of query (0), key (1), value (2) or
// grad_output (3); zero past d.
fn legacy_load4(which: u32, base: u32, vec: u32) -> vec4f {
  var result = vec4f(0.0);
  for (var c = 0u; c < 4u; c++) {
    let column = vec * 4u + c;
    if (column < params.d) {
      if (which == 0u) {
        result[c] = query[base + column];
      } else if (which == 1u) {
        result[c] = key[base + column];
      } else if (which == 2u) {
        result[c] = value[base + column];
      } else {
        result[c] = grad_output[base + column];
      }
    }
  }
  return result;
}

@compute @workgroup_size(ROWS)
fn legacy(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) local: u32) {
  let n = params.n;
  let d = params.d;
  let head = group.y;
  let first_row = (group.x * ROWS + local) * BLOCK;
  let batch_index = head / params.heads;
  let head_index = head % params.heads;
  let in_base = batch_index * params.in_batch + head_index * params.in_head;
  let out_base = batch_index * params.out_batch + head_index * params.out_head;
  let in_row = params.in_row;
  let out_row = params.out_row;

  var q: array<vec4f, MAX_HEAD_VECS * MAX_BLOCK>;
  var grad_out: array<vec4f, MAX_HEAD_VECS * MAX_BLOCK>;
  var accumulator: array<vec4f, MAX_HEAD_VECS * MAX_BLOCK>;
  var lse_log2: array<f32, MAX_BLOCK>;
  var row_delta: array<f32, MAX_BLOCK>;
  for (var r = 0u; r < BLOCK; r++) {
    // rows past n repeat row n - 1 (computed, never written)
    let row = min(first_row + r, n - 1u);
    let row_base = in_base + row * in_row;
    for (var v = 0u; v < HEAD_VECS; v++) {
      q[r * HEAD_VECS + v] = legacy_load4(0u, row_base + params.q_offset, v) * params.scale_log2;
      grad_out[r * HEAD_VECS + v] = legacy_load4(3u, out_base + row * out_row, v);
      accumulator[r * HEAD_VECS + v] = vec4f(0.0);
    }
    lse_log2[r] = log_sum_exp[head * n + row] * LOG2_E;
    row_delta[r] = delta[head * n + row];
  }

  for (var tile_start = 0u; tile_start < n; tile_start += KEY_TILE) {
    for (var index = local; index < KEY_TILE * HEAD_VECS; index += ROWS) {
      let key_row = tile_start + index / HEAD_VECS;
      let vec = index % HEAD_VECS;
      if (key_row < n) {
        let row_base = in_base + key_row * in_row;
        legacy_key_tile[index] = legacy_load4(1u, row_base + params.k_offset, vec);
        legacy_value_tile[index] = legacy_load4(2u, row_base + params.v_offset, vec);
      } else {
        legacy_key_tile[index] = vec4f(0.0);
        legacy_value_tile[index] = vec4f(0.0);
      }
    }
    workgroupBarrier();
    let count = min(KEY_TILE, n - tile_start);
    for (var j = 0u; j < count; j++) {
      var score4: array<vec4f, MAX_BLOCK>;
      for (var r = 0u; r < BLOCK; r++) {
        score4[r] = vec4f(0.0);
      }
      var grad_p4: array<vec4f, MAX_BLOCK>;
      for (var r = 0u; r < BLOCK; r++) {
        grad_p4[r] = vec4f(0.0);
      }
      for (var v = 0u; v < HEAD_VECS; v++) {
        let key4 = legacy_key_tile[j * HEAD_VECS + v];
        let value4 = legacy_value_tile[j * HEAD_VECS + v];
        for (var r = 0u; r < BLOCK; r++) {
          score4[r] += q[r * HEAD_VECS + v] * key4;
          grad_p4[r] += grad_out[r * HEAD_VECS + v] * value4;
        }
      }
      var grad_score: array<f32, MAX_BLOCK>;
      for (var r = 0u; r < BLOCK; r++) {
        let s = score4[r];
        let g = grad_p4[r];
        let p = exp2(s.x + s.y + s.z + s.w - lse_log2[r]);
        grad_score[r] = p * (g.x + g.y + g.z + g.w - row_delta[r]);
      }
      for (var v = 0u; v < HEAD_VECS; v++) {
        let key4 = legacy_key_tile[j * HEAD_VECS + v];
        for (var r = 0u; r < BLOCK; r++) {
          accumulator[r * HEAD_VECS + v] += grad_score[r] * key4;
        }
      }
    }
    workgroupBarrier();
  }

  for (var r = 0u; r < BLOCK; r++) {
    let row = first_row + r;
    if (row < n) {
      let row_base = in_base + params.q_offset + row * in_row;
      for (var v = 0u; v < HEAD_VECS; v++) {
        let result = accumulator[r * HEAD_VECS + v] * params.scale;
        for (var c = 0u; c < 4u; c++) {
          let column = v * 4u + c;
          if (column < d) {
            grad_query[row_base + column] = result[c];
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Blocked dq (entry point `main`, the default), shaped like the blocked forward (see
// attention_forward.wgsl): named vec4 registers only. A workgroup of LANES invocations covers 8
// query rows of one head, with their queries (times scale * log2 e), dO rows, log-sum-exp (base 2)
// and delta in workgroup memory. Per tile of up to 4 QUADS keys:
//   1. invocation t takes keys 4t.., 4(t + LANES).. four at a time: p = exp2(q.k - lse) and dO.v
//      for the 8 rows (as [8 x 4] blocks q_r * mat4x4(k..)), and stores ds = p (dO.v - delta) in
//      `scores` [8, 4 QUADS] (zero for keys past n);
//   2. invocation t < ceil(d / 4) owns columns 4t..4t+3 of the 8 dq rows (8 vec4 accumulators)
//      and adds mat4x4(k_j, .., k_j+3) * ds_r over the tile's keys.

override LANES: u32 = 16u;

const BLOCK_ROWS: u32 = 8u;
// vec4s of scores per row of a tile: the tile holds 4 QUADS keys (or queries)
override QUADS: u32 = 64u;

var<workgroup> query_block: array<vec4f, BLOCK_ROWS * HEAD_VECS>;
var<workgroup> grad_output_block: array<vec4f, BLOCK_ROWS * HEAD_VECS>;
var<workgroup> row_lse: array<f32, BLOCK_ROWS>;
var<workgroup> row_delta: array<f32, BLOCK_ROWS>;
var<workgroup> scores: array<vec4f, BLOCK_ROWS * QUADS>;

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

fn load_grad_output(base: u32, vec: u32) -> vec4f {
  let c = base + 4u * vec;
  if (4u * vec + 3u < params.d) {
    return vec4f(grad_output[c], grad_output[c + 1u], grad_output[c + 2u], grad_output[c + 3u]);
  }
  var result = vec4f(0.0);
  for (var i = 0u; 4u * vec + i < params.d && i < 4u; i++) {
    result[i] = grad_output[c + i];
  }
  return result;
}

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
  let in_base = (head / params.heads) * params.in_batch + (head % params.heads) * params.in_head;
  let out_base = (head / params.heads) * params.out_batch + (head % params.heads) * params.out_head;
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
