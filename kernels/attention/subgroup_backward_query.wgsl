enable subgroups;
// Attention backward, gradient of the query, "subgroup" variant. With p = exp(scale q_i.k_j - lse_i)
// recomputed from the saved log-sum-exp: dq_i = scale * sum_j p_ij (dO_i.v_j - delta_i) k_j.
// Teams of 8 lanes own 16 query rows (include/attention_team.wgsl) and stream the keys in tiles of
// 32 as attention/subgroup_forward does: per head vec4, the team's query rows (then dO rows) go
// round by subgroupShuffle and each lane adds the dot products with its 4 keys (then values);
// ds = p (dp - delta) needs no reduction; then each key's ds is shuffled from its lane and added
// times the key at the lane's columns. Bindings as the blocked backward_query.

// #include "attention_subgroup.wgsl"
// #include "attention_team_backward.wgsl"

@group(0) @binding(6) var<storage, read_write> grad_query: array<f32>;

fn write_gradient(part: u32, at: u32, value: f32) {
  grad_query[at] = value;
}

// Adds, for the 8 keys first_key .. first_key + 7 (one per lane, ds `slot` on its lane), ds times
// the key at this lane's columns to dq0 .. dq3.
fn mix_keys(
  dq0: ptr<function, array<vec4f, TEAM_ROWS>>,
  dq1: ptr<function, array<vec4f, TEAM_ROWS>>,
  dq2: ptr<function, array<vec4f, TEAM_ROWS>>,
  dq3: ptr<function, array<vec4f, TEAM_ROWS>>,
  slot: array<vec4f, ROW_QUADS>,
  first_key: u32,
  keys: u32,
  own: u32,
  first: u32,
) {
  for (var u = 0u; u < 8u; u++) {
    let ds = shuffled(slot, first + u);
    let row = keys + clamp_row(first_key + u) * params.in_row;
    add_weighted_row(dq0, ds, load_key(row, own));
    if (COLUMN_VECS > 1u) {
      add_weighted_row(dq1, ds, load_key(row, own + 8u));
    }
    if (COLUMN_VECS > 2u) {
      add_weighted_row(dq2, ds, load_key(row, own + 16u));
    }
    if (COLUMN_VECS > 3u) {
      add_weighted_row(dq3, ds, load_key(row, own + 24u));
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(workgroup_id) group: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) local: u32,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let team = team_of(group.x + group.y * groups.x, local);
  let n = params.n;
  let vecs = (params.d + 3u) / 4u;
  let in_row = params.in_row;
  let own = lane & 7u;
  let first = lane & ~7u;
  let low_row = clamp_row(team.first_row + own);
  let high_row = clamp_row(team.first_row + 8u + own);
  let low_query = team.bases.queries + low_row * in_row;
  let high_query = team.bases.queries + high_row * in_row;
  let low_grad = team.bases.outputs + low_row * params.out_row;
  let high_grad = team.bases.outputs + high_row * params.out_row;
  var lse: array<vec4f, ROW_QUADS>;
  var deltas: array<vec4f, ROW_QUADS>;
  for (var r = 0u; r < TEAM_ROWS; r++) {
    let at = team.head * n + clamp_row(team.first_row + r);
    lse[r / 4u][r % 4u] = log_sum_exp[at] * LOG2_E;
    deltas[r / 4u][r % 4u] = delta[at];
  }

  var dq0: array<vec4f, TEAM_ROWS>;
  var dq1: array<vec4f, TEAM_ROWS>;
  var dq2: array<vec4f, TEAM_ROWS>;
  var dq3: array<vec4f, TEAM_ROWS>;
  for (var tile = 0u; tile < n; tile += 32u) {
    let k0 = team.bases.keys + clamp_row(tile + own) * in_row;
    let k1 = team.bases.keys + clamp_row(tile + own + 8u) * in_row;
    let k2 = team.bases.keys + clamp_row(tile + own + 16u) * in_row;
    let k3 = team.bases.keys + clamp_row(tile + own + 24u) * in_row;
    let v0 = team.bases.values + clamp_row(tile + own) * in_row;
    let v1 = team.bases.values + clamp_row(tile + own + 8u) * in_row;
    let v2 = team.bases.values + clamp_row(tile + own + 16u) * in_row;
    let v3 = team.bases.values + clamp_row(tile + own + 24u) * in_row;
    // scores (base 2) and dp = dO.v of the lane's 4 keys for the team's 16 rows
    // (assigned, not declared zero: naga initialises a local declared in a loop only once)
    var s0: array<vec4f, ROW_QUADS>;
    var s1: array<vec4f, ROW_QUADS>;
    var s2: array<vec4f, ROW_QUADS>;
    var s3: array<vec4f, ROW_QUADS>;
    var dp0: array<vec4f, ROW_QUADS>;
    var dp1: array<vec4f, ROW_QUADS>;
    var dp2: array<vec4f, ROW_QUADS>;
    var dp3: array<vec4f, ROW_QUADS>;
    s0 = array<vec4f, ROW_QUADS>();
    s1 = s0;
    s2 = s0;
    s3 = s0;
    dp0 = s0;
    dp1 = s0;
    dp2 = s0;
    dp3 = s0;
    for (var vec = 0u; vec < vecs; vec++) {
      let low = load_query(low_query, vec) * params.scale_log2;
      let high = load_query(high_query, vec) * params.scale_log2;
      let m = team_matrices(low, high, first);
      s0 = add_dots(s0, load_key(k0, vec), m);
      s1 = add_dots(s1, load_key(k1, vec), m);
      s2 = add_dots(s2, load_key(k2, vec), m);
      s3 = add_dots(s3, load_key(k3, vec), m);
    }
    for (var vec = 0u; vec < vecs; vec++) {
      let m = team_matrices(load_grad_output(low_grad, vec), load_grad_output(high_grad, vec), first);
      dp0 = add_dots(dp0, load_value(v0, vec), m);
      dp1 = add_dots(dp1, load_value(v1, vec), m);
      dp2 = add_dots(dp2, load_value(v2, vec), m);
      dp3 = add_dots(dp3, load_value(v3, vec), m);
    }
    s0 = score_grads(s0, dp0, lse, deltas, tile + own < n);
    s1 = score_grads(s1, dp1, lse, deltas, tile + own + 8u < n);
    s2 = score_grads(s2, dp2, lse, deltas, tile + own + 16u < n);
    s3 = score_grads(s3, dp3, lse, deltas, tile + own + 24u < n);
    mix_keys(&dq0, &dq1, &dq2, &dq3, s0, tile, team.bases.keys, own, first);
    mix_keys(&dq0, &dq1, &dq2, &dq3, s1, tile + 8u, team.bases.keys, own, first);
    mix_keys(&dq0, &dq1, &dq2, &dq3, s2, tile + 16u, team.bases.keys, own, first);
    mix_keys(&dq0, &dq1, &dq2, &dq3, s3, tile + 24u, team.bases.keys, own, first);
  }

  if (team.stores) {
    let base = team.bases.queries;
    store_gradient_rows(dq0, 0u, team.first_row, base, in_row, own, params.scale);
    if (COLUMN_VECS > 1u) {
      store_gradient_rows(dq1, 0u, team.first_row, base, in_row, own + 8u, params.scale);
    }
    if (COLUMN_VECS > 2u) {
      store_gradient_rows(dq2, 0u, team.first_row, base, in_row, own + 16u, params.scale);
    }
    if (COLUMN_VECS > 3u) {
      store_gradient_rows(dq3, 0u, team.first_row, base, in_row, own + 24u, params.scale);
    }
  }
}
