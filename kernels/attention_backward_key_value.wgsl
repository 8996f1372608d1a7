// Attention backward, gradients of the keys and values. With p = exp(scale q_i.k_j - lse_i)
// recomputed from the saved log-sum-exp: dv_j = sum_i p_ij dO_i and
// dk_j = scale * sum_i p_ij (dO_i.v_j - delta_i) q_i. One invocation per key row holds k_j, v_j and
// the dk_j, dv_j accumulators (HEAD_VECS vec4s each); the workgroup stages QUERY_TILE query rows (with
// their dO rows, log-sum-exp and delta) at a time. Workgroup (x, y) covers key rows x * ROWS.. of head y.

override ROWS: u32 = 64u;
override QUERY_TILE: u32 = 32u;
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
@group(0) @binding(6) var<storage, read_write> grad_key: array<f32>;
@group(0) @binding(7) var<storage, read_write> grad_value: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

var<workgroup> query_tile: array<vec4f, QUERY_TILE * HEAD_VECS>;
var<workgroup> grad_output_tile: array<vec4f, QUERY_TILE * HEAD_VECS>;
var<workgroup> lse_tile: array<f32, QUERY_TILE>;
var<workgroup> delta_tile: array<f32, QUERY_TILE>;

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
  let head_base = head * n * d;
  let row_base = head_base + min(row, n - 1u) * d;

  var k: array<vec4f, MAX_HEAD_VECS>;
  var v_row: array<vec4f, MAX_HEAD_VECS>;
  var grad_k: array<vec4f, MAX_HEAD_VECS>;
  var grad_v: array<vec4f, MAX_HEAD_VECS>;
  for (var v = 0u; v < HEAD_VECS; v++) {
    k[v] = load_key(row_base, v) * params.scale_log2;
    v_row[v] = load_value(row_base, v);
    grad_k[v] = vec4f(0.0);
    grad_v[v] = vec4f(0.0);
  }

  for (var tile_start = 0u; tile_start < n; tile_start += QUERY_TILE) {
    for (var index = local; index < QUERY_TILE * HEAD_VECS; index += ROWS) {
      let i = index / HEAD_VECS;
      let vec = index % HEAD_VECS;
      let query_row = tile_start + i;
      if (query_row < n) {
        query_tile[index] = load_query(head_base + query_row * d, vec);
        grad_output_tile[index] = load_grad_output(head_base + query_row * d, vec);
      } else {
        query_tile[index] = vec4f(0.0);
        grad_output_tile[index] = vec4f(0.0);
      }
    }
    for (var i = local; i < QUERY_TILE; i += ROWS) {
      let query_row = tile_start + i;
      if (query_row < n) {
        lse_tile[i] = log_sum_exp[head * n + query_row] * 1.4426950408889634;
        delta_tile[i] = delta[head * n + query_row];
      } else {
        lse_tile[i] = 0.0;
        delta_tile[i] = 0.0;
      }
    }
    workgroupBarrier();
    let count = min(QUERY_TILE, n - tile_start);
    for (var i = 0u; i < count; i++) {
      let base = i * HEAD_VECS;
      var score4 = vec4f(0.0);
      var grad_p4 = vec4f(0.0);
      for (var v = 0u; v < HEAD_VECS; v++) {
        score4 += k[v] * query_tile[base + v];
        grad_p4 += v_row[v] * grad_output_tile[base + v];
      }
      let p = exp2(score4.x + score4.y + score4.z + score4.w - lse_tile[i]);
      let grad_score = p * (grad_p4.x + grad_p4.y + grad_p4.z + grad_p4.w - delta_tile[i]);
      for (var v = 0u; v < HEAD_VECS; v++) {
        grad_v[v] += p * grad_output_tile[base + v];
        grad_k[v] += grad_score * query_tile[base + v];
      }
    }
    workgroupBarrier();
  }

  if (valid) {
    for (var v = 0u; v < HEAD_VECS; v++) {
      let key_result = grad_k[v] * params.scale;
      let value_result = grad_v[v];
      for (var c = 0u; c < 4u; c++) {
        let column = v * 4u + c;
        if (column < d) {
          grad_key[row_base + column] = key_result[c];
          grad_value[row_base + column] = value_result[c];
        }
      }
    }
  }
}
