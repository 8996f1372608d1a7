// Fused attention forward (flash style): out = softmax(q k^T * scale) v over the key axis, with the
// per-row log-sum-exp of the scaled scores saved for the backward. The N x N scores are never stored.
// Each invocation owns BLOCK query rows and holds their queries and output accumulators (HEAD_VECS
// vec4s per row: the head size padded to a multiple of 4) in registers, so every key/value element
// read from workgroup memory feeds BLOCK rows. The workgroup stages KEY_TILE keys and values at a time
// and each row updates its running max and sum once per tile (online softmax, base-2 exponentials).
// Workgroup (x, y) covers rows x * ROWS * BLOCK.. of head y (y = batch * heads + head).
// Layouts come as strides (params): element (b, h, row, c) of q, k, v is at
// offset + b * in_batch + h * in_head + row * in_row + c (separate [B, H, N, d] tensors, or the packed
// [B, N, 3, H, d] qkv bound three times with offsets 0, D, 2D), and of the output at
// b * out_batch + h * out_head + row * out_row + c. The log-sum-exp is [B * H, N].

override ROWS: u32 = 16u;
override BLOCK: u32 = 4u;
override KEY_TILE: u32 = 32u;
override HEAD_VECS: u32 = 16u;

const MAX_HEAD_VECS: u32 = 32u;
const MAX_BLOCK: u32 = 4u;
const MAX_KEY_TILE: u32 = 32u;
const NEGATIVE_LARGE: f32 = -3.0e38;

struct Params {
  batch_heads: u32,
  n: u32,
  d: u32,
  heads: u32,
  scale: f32,
  // scale * log2(e): scores are kept in base 2 and exponentiated with exp2
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
@group(0) @binding(3) var<storage, read_write> output: array<f32>;
@group(0) @binding(4) var<storage, read_write> log_sum_exp: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

var<workgroup> key_tile: array<vec4f, KEY_TILE * HEAD_VECS>;
var<workgroup> value_tile: array<vec4f, KEY_TILE * HEAD_VECS>;

// Columns 4 * vec .. 4 * vec + 3 of the row at `base` of query (0), key (1) or value (2); zero past d.
fn load4(which: u32, base: u32, vec: u32) -> vec4f {
  var result = vec4f(0.0);
  for (var c = 0u; c < 4u; c++) {
    let column = vec * 4u + c;
    if (column < params.d) {
      if (which == 0u) {
        result[c] = query[base + column];
      } else if (which == 1u) {
        result[c] = key[base + column];
      } else {
        result[c] = value[base + column];
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

  var q: array<vec4f, MAX_HEAD_VECS * MAX_BLOCK>;
  var accumulator: array<vec4f, MAX_HEAD_VECS * MAX_BLOCK>;
  var running_max: array<f32, MAX_BLOCK>;
  var running_sum: array<f32, MAX_BLOCK>;
  var tile_max: array<f32, MAX_BLOCK>;
  var scores: array<f32, MAX_BLOCK * MAX_KEY_TILE>;
  for (var r = 0u; r < BLOCK; r++) {
    // rows past n repeat row n - 1 (computed, never written)
    let row_base = in_base + params.q_offset + min(first_row + r, n - 1u) * in_row;
    for (var v = 0u; v < HEAD_VECS; v++) {
      q[r * HEAD_VECS + v] = load4(0u, row_base, v) * params.scale_log2;
      accumulator[r * HEAD_VECS + v] = vec4f(0.0);
    }
    running_max[r] = NEGATIVE_LARGE;
    running_sum[r] = 0.0;
  }

  for (var tile_start = 0u; tile_start < n; tile_start += KEY_TILE) {
    // stage the tile's keys and values (zero past n)
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
    for (var r = 0u; r < BLOCK; r++) {
      tile_max[r] = running_max[r];
    }
    for (var j = 0u; j < count; j++) {
      var dot4: array<vec4f, MAX_BLOCK>;
      for (var r = 0u; r < BLOCK; r++) {
        dot4[r] = vec4f(0.0);
      }
      for (var v = 0u; v < HEAD_VECS; v++) {
        let key4 = key_tile[j * HEAD_VECS + v];
        for (var r = 0u; r < BLOCK; r++) {
          dot4[r] += q[r * HEAD_VECS + v] * key4;
        }
      }
      for (var r = 0u; r < BLOCK; r++) {
        let score = dot4[r].x + dot4[r].y + dot4[r].z + dot4[r].w;
        scores[r * MAX_KEY_TILE + j] = score;
        tile_max[r] = max(tile_max[r], score);
      }
    }
    for (var r = 0u; r < BLOCK; r++) {
      let correction = exp2(running_max[r] - tile_max[r]);
      running_sum[r] *= correction;
      for (var v = 0u; v < HEAD_VECS; v++) {
        accumulator[r * HEAD_VECS + v] *= correction;
      }
      running_max[r] = tile_max[r];
    }
    for (var j = 0u; j < count; j++) {
      var p: array<f32, MAX_BLOCK>;
      for (var r = 0u; r < BLOCK; r++) {
        p[r] = exp2(scores[r * MAX_KEY_TILE + j] - running_max[r]);
        running_sum[r] += p[r];
      }
      for (var v = 0u; v < HEAD_VECS; v++) {
        let value4 = value_tile[j * HEAD_VECS + v];
        for (var r = 0u; r < BLOCK; r++) {
          accumulator[r * HEAD_VECS + v] += p[r] * value4;
        }
      }
    }
    workgroupBarrier();
  }

  for (var r = 0u; r < BLOCK; r++) {
    let row = first_row + r;
    if (row < n) {
      let inverse = 1.0 / running_sum[r];
      let row_base = out_base + row * params.out_row;
      for (var v = 0u; v < HEAD_VECS; v++) {
        let result = accumulator[r * HEAD_VECS + v] * inverse;
        for (var c = 0u; c < 4u; c++) {
          let column = v * 4u + c;
          if (column < d) {
            output[row_base + column] = result[c];
          }
        }
      }
      // natural-log log-sum-exp of the scaled scores
      log_sum_exp[head * n + row] = (running_max[r] + log2(running_sum[r])) * 0.6931471805599453;
    }
  }
}
