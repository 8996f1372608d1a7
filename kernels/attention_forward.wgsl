// Fused attention forward (flash style): out = softmax(q k^T * scale) v over the key axis, with the
// per-row log-sum-exp of the scaled scores saved for the backward. The N x N scores are never stored.
// One invocation per query row holds the row's query and output accumulators (HEAD_VECS vec4s, the
// head size padded to a multiple of 4); the workgroup stages KEY_TILE keys and values at a time in
// workgroup memory and each invocation updates its running max and sum once per tile (online softmax).
// Tensors are [batchHeads, n, d] row-major; workgroup (x, y) covers rows x * ROWS.. of head y.

override ROWS: u32 = 64u;
override KEY_TILE: u32 = 32u;
override HEAD_VECS: u32 = 16u;

const MAX_HEAD_VECS: u32 = 32u;
const NEGATIVE_LARGE: f32 = -3.0e38;

struct Params {
  batch_heads: u32,
  n: u32,
  d: u32,
  // scale * log2(e): scores are kept in base 2 and exponentiated with exp2
  scale_log2: f32,
}

@group(0) @binding(0) var<storage, read> query: array<f32>;
@group(0) @binding(1) var<storage, read> key: array<f32>;
@group(0) @binding(2) var<storage, read> value: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;
@group(0) @binding(4) var<storage, read_write> log_sum_exp: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

var<workgroup> key_tile: array<vec4f, KEY_TILE * HEAD_VECS>;
var<workgroup> value_tile: array<vec4f, KEY_TILE * HEAD_VECS>;
var<workgroup> score_tile: array<f32, ROWS * KEY_TILE>;

// Four elements of row `row` (of a [rows, d] matrix at `base`) from column 4 * vec, zero past d.
fn load_query(base: u32, vec: u32) -> vec4f {
  let d = params.d;
  let column = vec * 4u;
  var result = vec4f(0.0);
  if (column + 3u < d) {
    result = vec4f(query[base + column], query[base + column + 1u], query[base + column + 2u],
      query[base + column + 3u]);
  } else {
    for (var c = 0u; c < 4u; c++) {
      if (column + c < d) { result[c] = query[base + column + c]; }
    }
  }
  return result;
}

fn load_key(base: u32, vec: u32) -> vec4f {
  let d = params.d;
  let column = vec * 4u;
  var result = vec4f(0.0);
  if (column + 3u < d) {
    result = vec4f(key[base + column], key[base + column + 1u], key[base + column + 2u],
      key[base + column + 3u]);
  } else {
    for (var c = 0u; c < 4u; c++) {
      if (column + c < d) { result[c] = key[base + column + c]; }
    }
  }
  return result;
}

fn load_value(base: u32, vec: u32) -> vec4f {
  let d = params.d;
  let column = vec * 4u;
  var result = vec4f(0.0);
  if (column + 3u < d) {
    result = vec4f(value[base + column], value[base + column + 1u], value[base + column + 2u],
      value[base + column + 3u]);
  } else {
    for (var c = 0u; c < 4u; c++) {
      if (column + c < d) { result[c] = value[base + column + c]; }
    }
  }
  return result;
}

@compute @workgroup_size(ROWS)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) local: u32) {
  let n = params.n;
  let d = params.d;
  let head = group.y;
  let row = group.x * ROWS + local;
  let valid = row < n;
  let head_base = head * n * d;
  let row_base = head_base + min(row, n - 1u) * d;

  var q: array<vec4f, MAX_HEAD_VECS>;
  var accumulator: array<vec4f, MAX_HEAD_VECS>;
  for (var v = 0u; v < HEAD_VECS; v++) {
    q[v] = load_query(row_base, v) * params.scale_log2;
    accumulator[v] = vec4f(0.0);
  }
  var running_max = NEGATIVE_LARGE;
  var running_sum = 0.0;
  let score_base = local * KEY_TILE;

  for (var tile_start = 0u; tile_start < n; tile_start += KEY_TILE) {
    // stage the tile's keys and values (zero past n and past d)
    for (var index = local; index < KEY_TILE * HEAD_VECS; index += ROWS) {
      let j = index / HEAD_VECS;
      let vec = index % HEAD_VECS;
      let key_row = tile_start + j;
      if (key_row < n) {
        key_tile[index] = load_key(head_base + key_row * d, vec);
        value_tile[index] = load_value(head_base + key_row * d, vec);
      } else {
        key_tile[index] = vec4f(0.0);
        value_tile[index] = vec4f(0.0);
      }
    }
    workgroupBarrier();
    let count = min(KEY_TILE, n - tile_start);
    var tile_max = running_max;
    for (var j = 0u; j < count; j++) {
      var dot4 = vec4f(0.0);
      let key_base = j * HEAD_VECS;
      for (var v = 0u; v < HEAD_VECS; v++) {
        dot4 += q[v] * key_tile[key_base + v];
      }
      let score = dot4.x + dot4.y + dot4.z + dot4.w;
      score_tile[score_base + j] = score;
      tile_max = max(tile_max, score);
    }
    let correction = exp2(running_max - tile_max);
    running_sum *= correction;
    for (var v = 0u; v < HEAD_VECS; v++) {
      accumulator[v] *= correction;
    }
    for (var j = 0u; j < count; j++) {
      let p = exp2(score_tile[score_base + j] - tile_max);
      running_sum += p;
      let value_base = j * HEAD_VECS;
      for (var v = 0u; v < HEAD_VECS; v++) {
        accumulator[v] += p * value_tile[value_base + v];
      }
    }
    running_max = tile_max;
    workgroupBarrier();
  }

  if (valid) {
    let inverse = 1.0 / running_sum;
    let out_base = head_base + row * d;
    for (var v = 0u; v < HEAD_VECS; v++) {
      let result = accumulator[v] * inverse;
      for (var c = 0u; c < 4u; c++) {
        let column = v * 4u + c;
        if (column < d) { output[out_base + column] = result[c]; }
      }
    }
    // natural-log log-sum-exp of the scaled scores
    log_sum_exp[head * n + row] = (running_max + log2(running_sum)) * 0.6931471805599453;
  }
}
