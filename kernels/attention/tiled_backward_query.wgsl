// Attention backward, gradient of the query, "tiled" variant. With p = exp(scale q_i.k_j - lse_i)
// recomputed from the saved log-sum-exp: dq_i = scale * sum_j p_ij (dO_i.v_j - delta_i) k_j.
// A workgroup of W = WORKGROUP_SIZE invocations covers query rows 2 W x .. of head y; invocation i
// owns rows i and i + W (q times scale * log2 e, dO and dq in registers). Per tile of KEY_TILE
// keys (keys in tile_a, values in tile_b), 8 at a time: scores and dp = dO.v (2 x 8 each),
// ds = p (dp - delta), dq += ds k. Bindings as the blocked backward_query. The tiles, query rows
// and scores: include/attention_tiled_queries.wgsl.

// #include "attention_tiled_queries.wgsl"
// #include "attention_team_backward.wgsl"

@group(0) @binding(6) var<storage, read_write> grad_query: array<f32>;

fn write_gradient(part: u32, at: u32, value: f32) {
  grad_query[at] = value;
}

// ds of 4 keys for one row: p (dp - delta) with p = exp2(s - lse), zero past n.
fn key_grads(s: vec4f, dp: vec4f, lse: f32, row_delta: f32, valid: vec4<bool>) -> vec4f {
  return select(vec4f(0.0), exp2(s - lse) * (dp - row_delta), valid);
}

// Writes dq row `row` (if below n) times scale.
fn store_query_row(dq: array<vec4f, MAX_HEAD_VECS>, row: u32, base: u32) {
  if (row < params.n) {
    let at = base + row * params.in_row;
    for (var v = 0u; v < HEAD_VECS; v++) {
      let result = dq[v] * params.scale;
      for (var i = 0u; i < columns_in(v); i++) {
        grad_query[at + 4u * v + i] = result[i];
      }
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) local: u32) {
  let n = params.n;
  let head = group.y;
  let bases = head_bases(head);
  let low_row = group.x * 2u * WORKGROUP_SIZE + local;
  let high_row = low_row + WORKGROUP_SIZE;
  let low = clamp_row(low_row);
  let high = clamp_row(high_row);
  var q_low = scaled_query(bases, low_row);
  var q_high = scaled_query(bases, high_row);
  var g_low: array<vec4f, MAX_HEAD_VECS>;
  var g_high: array<vec4f, MAX_HEAD_VECS>;
  var dq_low: array<vec4f, MAX_HEAD_VECS>;
  var dq_high: array<vec4f, MAX_HEAD_VECS>;
  for (var v = 0u; v < HEAD_VECS; v++) {
    g_low[v] = load_grad_output(bases.outputs + low * params.out_row, v);
    g_high[v] = load_grad_output(bases.outputs + high * params.out_row, v);
  }
  let lse_low = log_sum_exp[head * n + low] * LOG2_E;
  let lse_high = log_sum_exp[head * n + high] * LOG2_E;
  let delta_low = delta[head * n + low];
  let delta_high = delta[head * n + high];
  for (var tile = 0u; tile < n; tile += KEY_TILE) {
    workgroupBarrier(); // the previous tile is read
    fill_tiles(bases, tile, local);
    workgroupBarrier();
    let keys_here = min(KEY_TILE, n - tile);
    for (var chunk = 0u; chunk < keys_here; chunk += 8u) {
      let s = chunk_dots(0u, &q_low, &q_high, chunk);
      let dp = chunk_dots(1u, &g_low, &g_high, chunk);
      let valid_a = inside(tile + chunk);
      let valid_b = inside(tile + chunk + 4u);
      let dsa_low = key_grads(s.a_low, dp.a_low, lse_low, delta_low, valid_a);
      let dsb_low = key_grads(s.b_low, dp.b_low, lse_low, delta_low, valid_b);
      let dsa_high = key_grads(s.a_high, dp.a_high, lse_high, delta_high, valid_a);
      let dsb_high = key_grads(s.b_high, dp.b_high, lse_high, delta_high, valid_b);
      for (var v = 0u; v < HEAD_VECS; v++) {
        let ka = tile_matrix(0u, chunk, v, false);
        let kb = tile_matrix(0u, chunk, v, true);
        dq_low[v] += ka * dsa_low + kb * dsb_low;
        dq_high[v] += ka * dsa_high + kb * dsb_high;
      }
    }
  }
  store_query_row(dq_low, low_row, bases.queries);
  store_query_row(dq_high, high_row, bases.queries);
}
