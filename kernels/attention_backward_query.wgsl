// Attention backward, gradient of the query. With p = exp(scale q_i.k_j - lse_i) recomputed from the
// saved log-sum-exp: dq_i = scale * sum_j p_ij (dO_i.v_j - delta_i) k_j. One invocation per query
// row holds q_i, dO_i and the dq_i accumulator (HEAD_VECS vec4s); the workgroup stages KEY_TILE keys
// and values at a time in workgroup memory. Workgroup (x, y) covers rows x * ROWS.. of head y.

override ROWS: u32 = 64u;
override KEY_TILE: u32 = 32u;
override HEAD_VECS: u32 = 16u;

const MAX_HEAD_VECS: u32 = 32u;

struct Params {
  batch_heads: u32,
  n: u32,
  d: u32,
  scale: f32,
  scale_log2: f32,
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

fn load_query(base: u32, vec: u32) -> vec4f {
  var result = vec4f(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (vec * 4u + c < params.d) { result[c] = query[base + vec * 4u + c]; }
  }
  return result;
}

fn load_key(base: u32, vec: u32) -> vec4f {
  var result = vec4f(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (vec * 4u + c < params.d) { result[c] = key[base + vec * 4u + c]; }
  }
  return result;
}

fn load_value(base: u32, vec: u32) -> vec4f {
  var result = vec4f(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (vec * 4u + c < params.d) { result[c] = value[base + vec * 4u + c]; }
  }
  return result;
}

fn load_grad_output(base: u32, vec: u32) -> vec4f {
  var result = vec4f(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (vec * 4u + c < params.d) { result[c] = grad_output[base + vec * 4u + c]; }
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
  let clamped = min(row, n - 1u);
  let head_base = head * n * d;
  let row_base = head_base + clamped * d;

  var q: array<vec4f, MAX_HEAD_VECS>;
  var grad_out: array<vec4f, MAX_HEAD_VECS>;
  var accumulator: array<vec4f, MAX_HEAD_VECS>;
  for (var v = 0u; v < HEAD_VECS; v++) {
    q[v] = load_query(row_base, v) * params.scale_log2;
    grad_out[v] = load_grad_output(row_base, v);
    accumulator[v] = vec4f(0.0);
  }
  let lse_log2 = log_sum_exp[head * n + clamped] * 1.4426950408889634;
  let row_delta = delta[head * n + clamped];

  for (var tile_start = 0u; tile_start < n; tile_start += KEY_TILE) {
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
    for (var j = 0u; j < count; j++) {
      let base = j * HEAD_VECS;
      var score4 = vec4f(0.0);
      var grad_p4 = vec4f(0.0);
      for (var v = 0u; v < HEAD_VECS; v++) {
        score4 += q[v] * key_tile[base + v];
        grad_p4 += grad_out[v] * value_tile[base + v];
      }
      let p = exp2(score4.x + score4.y + score4.z + score4.w - lse_log2);
      let grad_score = p * (grad_p4.x + grad_p4.y + grad_p4.z + grad_p4.w - row_delta);
      for (var v = 0u; v < HEAD_VECS; v++) {
        accumulator[v] += grad_score * key_tile[base + v];
      }
    }
    workgroupBarrier();
  }

  if (valid) {
    for (var v = 0u; v < HEAD_VECS; v++) {
      let result = accumulator[v] * params.scale;
      for (var c = 0u; c < 4u; c++) {
        let column = v * 4u + c;
        if (column < d) { grad_query[row_base + column] = result[c]; }
      }
    }
  }
}
