enable subgroups;
// Attention backward, gradients of the keys and values, "subgroup" variant. With
// p = exp(scale q_i.k_j - lse_i) recomputed from the saved log-sum-exp: dv_j = sum_i p_ij dO_i and
// dk_j = scale * sum_i p_ij (dO_i.v_j - delta_i) q_i.
// Teams of 8 lanes own 16 key rows (include/attention_team.wgsl) and stream the queries in tiles
// of 16, lane `own` owning queries own and own + 8 of the tile: per head vec4, the team's key rows
// (times scale * log2 e; then value rows) go round by subgroupShuffle and each lane adds the dot
// products with its 2 queries (then dO rows); p and ds = p (dp - delta) need no reduction; then
// each query's p and ds are shuffled from its lane and added times its dO and q rows at the lane's
// columns. No atomics: each key row is written by the one team that owns it. Bindings as the
// blocked backward_key_value; with SEPARATE_VALUE_GRAD = 0 (packed qkv) dk and dv both go to
// grad_key and grad_value is a placeholder that is never written.

override SEPARATE_VALUE_GRAD: u32 = 1u;

// #include "attention_subgroup.wgsl"
// #include "attention_team_backward.wgsl"
// f16 form (`_f16`): q, k, v stored as f16 (include/attention_inputs_f16.wgsl); dO and the
// gradients f32.
// #form f16: attention_inputs.wgsl -> attention_inputs_f16.wgsl

@group(0) @binding(6) var<storage, read_write> grad_key: array<f32>;
@group(0) @binding(7) var<storage, read_write> grad_value: array<f32>;

// part 0: dk, part 1: dv (into grad_key too with the packed gradient)
fn write_gradient(part: u32, at: u32, value: f32) {
  if (part == 1u && SEPARATE_VALUE_GRAD != 0u) {
    grad_value[at] = value;
  } else {
    grad_key[at] = value;
  }
}

// What mix_rows mixes: the queries' rows of q (part 0, for dk) or dO (part 1, for dv).
fn mixed_row(part: u32, bases: HeadBases, row: u32, vec: u32) -> vec4f {
  if (part == 1u) {
    return load_grad_output(bases.outputs + row * params.out_row, vec);
  }
  return load_query(bases.queries + row * params.in_row, vec);
}

// p of 16 key rows for one query: exp2(s - lse), zero past n.
fn probabilities(s: array<vec4f, ROW_QUADS>, lse: f32, valid: bool) -> array<vec4f, ROW_QUADS> {
  var result: array<vec4f, ROW_QUADS>;
  for (var a = 0u; a < ROW_QUADS; a++) {
    result[a] = select(vec4f(0.0), exp2(s[a] - lse), valid);
  }
  return result;
}

// ds = p (dp - delta) of 16 key rows for one query.
fn grads_of(p: array<vec4f, ROW_QUADS>, dp: array<vec4f, ROW_QUADS>, row_delta: f32) -> array<vec4f, ROW_QUADS> {
  var result: array<vec4f, ROW_QUADS>;
  for (var a = 0u; a < ROW_QUADS; a++) {
    result[a] = p[a] * (dp[a] - row_delta);
  }
  return result;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(workgroup_id) group: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) local: u32,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let team = team_of(group.x + group.y * groups.x, local);
  let bases = team.bases;
  let n = params.n;
  let vecs = (params.d + 3u) / 4u;
  let in_row = params.in_row;
  let own = lane & 7u;
  let first = lane & ~7u;
  let low_key = bases.keys + clamp_row(team.first_row + own) * in_row;
  let high_key = bases.keys + clamp_row(team.first_row + 8u + own) * in_row;
  let low_value = bases.values + clamp_row(team.first_row + own) * in_row;
  let high_value = bases.values + clamp_row(team.first_row + 8u + own) * in_row;

  var dk0: array<vec4f, TEAM_ROWS>;
  var dk1: array<vec4f, TEAM_ROWS>;
  var dk2: array<vec4f, TEAM_ROWS>;
  var dk3: array<vec4f, TEAM_ROWS>;
  var dv0: array<vec4f, TEAM_ROWS>;
  var dv1: array<vec4f, TEAM_ROWS>;
  var dv2: array<vec4f, TEAM_ROWS>;
  var dv3: array<vec4f, TEAM_ROWS>;
  for (var tile = 0u; tile < n; tile += 16u) {
    let i0 = clamp_row(tile + own);
    let i1 = clamp_row(tile + own + 8u);
    let q0 = bases.queries + i0 * in_row;
    let q1 = bases.queries + i1 * in_row;
    let g0 = bases.outputs + i0 * params.out_row;
    let g1 = bases.outputs + i1 * params.out_row;
    // scores (base 2) and dp = v.dO of the team's 16 key rows for the lane's 2 queries
    // (assigned, not declared zero: naga initialises a local declared in a loop only once)
    var s0: array<vec4f, ROW_QUADS>;
    var s1: array<vec4f, ROW_QUADS>;
    var dp0: array<vec4f, ROW_QUADS>;
    var dp1: array<vec4f, ROW_QUADS>;
    s0 = array<vec4f, ROW_QUADS>();
    s1 = s0;
    dp0 = s0;
    dp1 = s0;
    for (var vec = 0u; vec < vecs; vec++) {
      let low = load_key(low_key, vec) * params.scale_log2;
      let high = load_key(high_key, vec) * params.scale_log2;
      let m = team_matrices(low, high, first);
      s0 = add_dots(s0, load_query(q0, vec), m);
      s1 = add_dots(s1, load_query(q1, vec), m);
    }
    for (var vec = 0u; vec < vecs; vec++) {
      let m = team_matrices(load_value(low_value, vec), load_value(high_value, vec), first);
      dp0 = add_dots(dp0, load_grad_output(g0, vec), m);
      dp1 = add_dots(dp1, load_grad_output(g1, vec), m);
    }
    let p0 = probabilities(s0, log_sum_exp[team.head * n + i0] * LOG2_E, tile + own < n);
    let p1 = probabilities(s1, log_sum_exp[team.head * n + i1] * LOG2_E, tile + own + 8u < n);
    let ds0 = grads_of(p0, dp0, delta[team.head * n + i0]);
    let ds1 = grads_of(p1, dp1, delta[team.head * n + i1]);
    mix_rows(&dv0, &dv1, &dv2, &dv3, p0, 1u, tile, bases, own, first);
    mix_rows(&dv0, &dv1, &dv2, &dv3, p1, 1u, tile + 8u, bases, own, first);
    mix_rows(&dk0, &dk1, &dk2, &dk3, ds0, 0u, tile, bases, own, first);
    mix_rows(&dk0, &dk1, &dk2, &dk3, ds1, 0u, tile + 8u, bases, own, first);
  }

  if (team.stores) {
    store_gradient_columns(dk0, dk1, dk2, dk3, 0u, team, bases.keys, own);
    store_gradient_columns(dv0, dv1, dv2, dv3, 1u, team, bases.values, own);
  }
}
