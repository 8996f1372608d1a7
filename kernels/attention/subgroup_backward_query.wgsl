enable subgroups;
// Attention backward, gradient of the query, "subgroup" variant. With p = exp(scale q_i.k_j - lse_i)
// recomputed from the saved log-sum-exp: dq_i = scale * sum_j p_ij (dO_i.v_j - delta_i) k_j.
// Teams of 8 lanes own 16 query rows (include/attention_team.wgsl) and stream the keys in tiles of
// 32 as attention/subgroup_forward does (include/attention_subgroup_queries.wgsl): per head vec4,
// the team's query rows (then dO rows) go round by subgroupShuffle and each lane adds the dot
// products with its 4 keys (then values); ds = p (dp - delta) needs no reduction; then each key's
// ds is shuffled from its lane and added times the key at the lane's columns. Bindings as the
// blocked backward_query.

// #include "attention_subgroup_queries.wgsl"
// #include "attention_team_backward.wgsl"
// f16 form (`_f16`): q, k, v stored as f16 (include/attention_inputs_f16.wgsl); dO and dq f32.
// #form f16: attention_inputs.wgsl -> attention_inputs_f16.wgsl

@group(0) @binding(6) var<storage, read_write> grad_query: array<f32>;

fn write_gradient(part: u32, at: u32, value: f32) {
  grad_query[at] = value;
}

// What mix_slots mixes: the keys.
fn mixed_row(part: u32, bases: HeadBases, row: u32, vec: u32) -> vec4f {
  return load_key(bases.keys + row * params.in_row, vec);
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
  let own = lane & 7u;
  let first = lane & ~7u;
  let low_row = clamp_row(team.first_row + own);
  let high_row = clamp_row(team.first_row + 8u + own);
  let low_query = team.bases.queries + low_row * params.in_row;
  let high_query = team.bases.queries + high_row * params.in_row;
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
  for (var tile = 0u; tile < n; tile += 8u * KEY_SLOTS) {
    // scores (base 2) and dp = dO.v of the lane's 4 keys for the team's 16 rows
    var s = key_scores(low_query, high_query, tile, team.bases, own, first);
    let values = slot_rows(team.bases.values, tile, own);
    // (assigned, not declared zero: naga initialises a local declared in a loop only once)
    var dp: KeySlots;
    dp = KeySlots();
    for (var vec = 0u; vec < vecs; vec++) {
      let m = team_matrices(load_grad_output(low_grad, vec), load_grad_output(high_grad, vec), first);
      dp[0] = add_dots(dp[0], load_value(values[0], vec), m);
      dp[1] = add_dots(dp[1], load_value(values[1], vec), m);
      dp[2] = add_dots(dp[2], load_value(values[2], vec), m);
      dp[3] = add_dots(dp[3], load_value(values[3], vec), m);
    }
    s[0] = score_grads(s[0], dp[0], lse, deltas, tile + own < n);
    s[1] = score_grads(s[1], dp[1], lse, deltas, tile + own + 8u < n);
    s[2] = score_grads(s[2], dp[2], lse, deltas, tile + own + 16u < n);
    s[3] = score_grads(s[3], dp[3], lse, deltas, tile + own + 24u < n);
    mix_slots(&dq0, &dq1, &dq2, &dq3, s, tile, team.bases, own, first);
  }

  if (team.stores) {
    store_gradient_columns(dq0, dq1, dq2, dq3, 0u, team, team.bases.queries, own);
  }
}
