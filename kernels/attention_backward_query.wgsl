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

var<workgroup> key_tile: array<vec4f, KEY_TILE * HEAD_VECS>;
var<workgroup> value_tile: array<vec4f, KEY_TILE * HEAD_VECS>;

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
      q[r * HEAD_VECS + v] = load4(0u, row_base + params.q_offset, v) * params.scale_log2;
      grad_out[r * HEAD_VECS + v] = load4(3u, out_base + row * out_row, v);
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
        key_tile[index] = load4(1u, row_base + params.k_offset, vec);
        value_tile[index] = load4(2u, row_base + params.v_offset, vec);
      } else {
        key_tile[index] = vec4f(0.0);
        value_tile[index] = vec4f(0.0);
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
        let key4 = key_tile[j * HEAD_VECS + v];
        let value4 = value_tile[j * HEAD_VECS + v];
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
        let key4 = key_tile[j * HEAD_VECS + v];
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
