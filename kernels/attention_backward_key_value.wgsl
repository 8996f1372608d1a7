// Attention backward, gradients of the keys and values. With p = exp(scale q_i.k_j - lse_i)
// recomputed from the saved log-sum-exp: dv_j = sum_i p_ij dO_i and
// dk_j = scale * sum_i p_ij (dO_i.v_j - delta_i) q_i. Each invocation owns BLOCK key rows and holds
// their k_j, v_j and the dk_j, dv_j accumulators (HEAD_VECS vec4s each) in registers; the workgroup
// stages QUERY_TILE query rows (with their dO rows, log-sum-exp and delta) at a time.
// Workgroup (x, y) covers key rows x * ROWS * BLOCK.. of head y (y = batch * heads + head). No
// atomics: each key row is written by the one invocation that owns it.
// Layouts come as strides (params), as in attention_forward.wgsl: element (b, h, row, c) of q, k, v
// and of their gradients is at offset + b * in_batch + h * in_head + row * in_row + c, of dO at
// b * out_batch + h * out_head + row * out_row + c; log-sum-exp and delta are [B * H, N].
// With SEPARATE_VALUE_GRAD = 0 (packed qkv) dk and dv both go to grad_key (one [B, N, 3 D] gradient,
// at offsets k_offset and v_offset) and grad_value is a placeholder that is never written: one
// writable binding per buffer (WebGPU forbids aliasing a writable binding).

override ROWS: u32 = 16u;
override BLOCK: u32 = 4u;
override QUERY_TILE: u32 = 32u;
override HEAD_VECS: u32 = 16u;
override SEPARATE_VALUE_GRAD: u32 = 1u;

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
@group(0) @binding(6) var<storage, read_write> grad_key: array<f32>;
@group(0) @binding(7) var<storage, read_write> grad_value: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

var<workgroup> query_tile: array<vec4f, QUERY_TILE * HEAD_VECS>;
var<workgroup> grad_output_tile: array<vec4f, QUERY_TILE * HEAD_VECS>;
var<workgroup> lse_tile: array<f32, QUERY_TILE>;
var<workgroup> delta_tile: array<f32, QUERY_TILE>;

// Columns 4 * vec .. 4 * vec + 3 of the row at `base` of query (0), key (1), value (2) or
// grad_output (3); zero past d.
fn load4(which: u32, base: u32, vec: u32) -> vec4f {
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
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) local: u32) {
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

  var k: array<vec4f, MAX_HEAD_VECS * MAX_BLOCK>;
  var v_rows: array<vec4f, MAX_HEAD_VECS * MAX_BLOCK>;
  var grad_k: array<vec4f, MAX_HEAD_VECS * MAX_BLOCK>;
  var grad_v: array<vec4f, MAX_HEAD_VECS * MAX_BLOCK>;
  for (var r = 0u; r < BLOCK; r++) {
    // rows past n repeat row n - 1 (computed, never written)
    let row_base = in_base + min(first_row + r, n - 1u) * in_row;
    for (var v = 0u; v < HEAD_VECS; v++) {
      k[r * HEAD_VECS + v] = load4(1u, row_base + params.k_offset, v) * params.scale_log2;
      v_rows[r * HEAD_VECS + v] = load4(2u, row_base + params.v_offset, v);
      grad_k[r * HEAD_VECS + v] = vec4f(0.0);
      grad_v[r * HEAD_VECS + v] = vec4f(0.0);
    }
  }

  for (var tile_start = 0u; tile_start < n; tile_start += QUERY_TILE) {
    for (var index = local; index < QUERY_TILE * HEAD_VECS; index += ROWS) {
      let query_row = tile_start + index / HEAD_VECS;
      let vec = index % HEAD_VECS;
      if (query_row < n) {
        query_tile[index] = load4(0u, in_base + params.q_offset + query_row * in_row, vec);
        grad_output_tile[index] = load4(3u, out_base + query_row * out_row, vec);
      } else {
        query_tile[index] = vec4f(0.0);
        grad_output_tile[index] = vec4f(0.0);
      }
    }
    for (var i = local; i < QUERY_TILE; i += ROWS) {
      let query_row = tile_start + i;
      if (query_row < n) {
        lse_tile[i] = log_sum_exp[head * n + query_row] * LOG2_E;
        delta_tile[i] = delta[head * n + query_row];
      } else {
        lse_tile[i] = 0.0;
        delta_tile[i] = 0.0;
      }
    }
    workgroupBarrier();
    let count = min(QUERY_TILE, n - tile_start);
    for (var i = 0u; i < count; i++) {
      var score4: array<vec4f, MAX_BLOCK>;
      for (var r = 0u; r < BLOCK; r++) {
        score4[r] = vec4f(0.0);
      }
      var grad_p4: array<vec4f, MAX_BLOCK>;
      for (var r = 0u; r < BLOCK; r++) {
        grad_p4[r] = vec4f(0.0);
      }
      for (var v = 0u; v < HEAD_VECS; v++) {
        let query4 = query_tile[i * HEAD_VECS + v];
        let grad4 = grad_output_tile[i * HEAD_VECS + v];
        for (var r = 0u; r < BLOCK; r++) {
          score4[r] += k[r * HEAD_VECS + v] * query4;
          grad_p4[r] += v_rows[r * HEAD_VECS + v] * grad4;
        }
      }
      var p: array<f32, MAX_BLOCK>;
      var grad_score: array<f32, MAX_BLOCK>;
      let lse = lse_tile[i];
      let row_delta = delta_tile[i];
      for (var r = 0u; r < BLOCK; r++) {
        let s = score4[r];
        let g = grad_p4[r];
        p[r] = exp2(s.x + s.y + s.z + s.w - lse);
        grad_score[r] = p[r] * (g.x + g.y + g.z + g.w - row_delta);
      }
      for (var v = 0u; v < HEAD_VECS; v++) {
        let query4 = query_tile[i * HEAD_VECS + v];
        let grad4 = grad_output_tile[i * HEAD_VECS + v];
        for (var r = 0u; r < BLOCK; r++) {
          grad_v[r * HEAD_VECS + v] += p[r] * grad4;
          grad_k[r * HEAD_VECS + v] += grad_score[r] * query4;
        }
      }
    }
    workgroupBarrier();
  }

  for (var r = 0u; r < BLOCK; r++) {
    let row = first_row + r;
    if (row < n) {
      let row_base = in_base + row * in_row;
      for (var v = 0u; v < HEAD_VECS; v++) {
        let key_result = grad_k[r * HEAD_VECS + v] * params.scale;
        let value_result = grad_v[r * HEAD_VECS + v];
        for (var c = 0u; c < 4u; c++) {
          let column = v * 4u + c;
          if (column < d) {
            grad_key[row_base + params.k_offset + column] = key_result[c];
            if (SEPARATE_VALUE_GRAD != 0u) {
              grad_value[row_base + params.v_offset + column] = value_result[c];
            } else {
              grad_key[row_base + params.v_offset + column] = value_result[c];
            }
          }
        }
      }
    }
  }
}
