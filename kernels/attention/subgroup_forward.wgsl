enable subgroups;
// Fused attention forward, "subgroup" variant: out = softmax(q k^T * scale) v over the key axis,
// and the natural-log log-sum-exp of each row's scaled scores ([B * H, N]), as attention/forward
// writes them. A team of 8 lanes (include/attention_team.wgsl) owns 16 query rows and streams the
// keys in tiles of 8 KEY_SLOTS; lane `own` owns the tile's keys 8 t + own (t < KEY_SLOTS; the
// slots, scores and mix: include/attention_subgroup_queries.wgsl):
//   1. scores: per vec4 of the head, each lane loads its 2 query rows (times scale * log2 e) and
//      its KEY_SLOTS keys; the team's 16 query vec4s go round by subgroupShuffle, and each lane
//      adds the [16 rows x KEY_SLOTS keys] dot products of its keys (vec4 * mat4x4 per 4 rows);
//   2. online softmax: the tile's row maxima over the team (shuffle-xor), the running maxima,
//      the rescaling of the sums (kept per lane, summed over the team at the end) and outputs;
//   3. mix: for each key of the tile, its 16 probabilities are shuffled from the lane that owns
//      it, and each lane adds them times the key's value at its COLUMN_VECS vec4 columns.
// Loads per lane are (2 + KEY_SLOTS) per head vec4 and COLUMN_VECS per key, for 16 KEY_SLOTS and
// 16 COLUMN_VECS vec4 multiply-adds: few loads per multiply-add is what makes this fast on
// llvmpipe (a non-uniform load there is a loop over the lanes) and on GPUs alike.

// #include "attention_subgroup_queries.wgsl"

// Bindings 0-2 (q, k, v): include/attention_inputs.wgsl; 3 (the output, written by store_output):
// include/attention_output.wgsl; the params: include/attention_params.wgsl.
// #include "attention_output.wgsl"
// f16 form (`_f16`): q, k, v and the output stored as f16 (include/attention_*_f16.wgsl).
// #form f16: attention_inputs.wgsl -> attention_inputs_f16.wgsl, attention_output.wgsl -> attention_output_f16.wgsl
@group(0) @binding(4) var<storage, read_write> log_sum_exp: array<f32>;

// What mix_slots mixes: the keys' values.
fn mixed_row(part: u32, bases: HeadBases, row: u32, vec: u32) -> vec4f {
  return load_value(bases.values + row * params.in_row, vec);
}

// The slot's scores, or a large negative score where its key lies past n.
fn masked(slot: array<vec4f, ROW_QUADS>, key: u32) -> array<vec4f, ROW_QUADS> {
  if (key < params.n) {
    return slot;
  }
  return array<vec4f, ROW_QUADS>(
    vec4f(NEGATIVE_LARGE),
    vec4f(NEGATIVE_LARGE),
    vec4f(NEGATIVE_LARGE),
    vec4f(NEGATIVE_LARGE),
  );
}

// exp2 of the slot's scores minus the rows' maxima.
fn exponentials(slot: array<vec4f, ROW_QUADS>, maxima: array<vec4f, ROW_QUADS>) -> array<vec4f, ROW_QUADS> {
  return array<vec4f, ROW_QUADS>(
    exp2(slot[0] - maxima[0]),
    exp2(slot[1] - maxima[1]),
    exp2(slot[2] - maxima[2]),
    exp2(slot[3] - maxima[3]),
  );
}

// Writes output row first_row + r (r < 16) at this lane's columns: o_c[r] / sum.
fn store_output_rows(o: array<vec4f, TEAM_ROWS>, c: u32, team: Team, sums: array<vec4f, ROW_QUADS>, own: u32) {
  let vec = own + 8u * c;
  for (var r = 0u; r < TEAM_ROWS; r++) {
    let row = team.first_row + r;
    if (row < params.n) {
      store_output(team.bases.outputs + row * params.out_row, vec, o[r] / sums[r / 4u][r % 4u]);
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
  let own = lane & 7u;
  let first = lane & ~7u;
  let low_row = team.bases.queries + clamp_row(team.first_row + own) * params.in_row;
  let high_row = team.bases.queries + clamp_row(team.first_row + 8u + own) * params.in_row;

  var running_max = array<vec4f, ROW_QUADS>(
    vec4f(NEGATIVE_LARGE),
    vec4f(NEGATIVE_LARGE),
    vec4f(NEGATIVE_LARGE),
    vec4f(NEGATIVE_LARGE),
  );
  var sums: array<vec4f, ROW_QUADS>;
  // output accumulators of the 16 rows at this lane's vec4 columns own, own + 8, own + 16, own + 24
  var o0: array<vec4f, TEAM_ROWS>;
  var o1: array<vec4f, TEAM_ROWS>;
  var o2: array<vec4f, TEAM_ROWS>;
  var o3: array<vec4f, TEAM_ROWS>;
  for (var tile = 0u; tile < n; tile += 8u * KEY_SLOTS) {
    // 1. scores of the lane's keys tile + own + 8 t (slot t) for the team's 16 rows
    var s = key_scores(low_row, high_row, tile, team.bases, own, first);
    // 2. online softmax: the tile's maxima over the team, then exponentials
    s[0] = masked(s[0], tile + own);
    s[1] = masked(s[1], tile + own + 8u);
    s[2] = masked(s[2], tile + own + 16u);
    s[3] = masked(s[3], tile + own + 24u);
    var maxima: array<vec4f, ROW_QUADS>;
    var correction: array<vec4f, ROW_QUADS>;
    for (var a = 0u; a < ROW_QUADS; a++) {
      let largest = max(max(running_max[a], max(s[0][a], s[1][a])), max(s[2][a], s[3][a]));
      maxima[a] = team_max(largest);
      correction[a] = exp2(running_max[a] - maxima[a]);
    }
    running_max = maxima;
    s[0] = exponentials(s[0], maxima);
    s[1] = exponentials(s[1], maxima);
    s[2] = exponentials(s[2], maxima);
    s[3] = exponentials(s[3], maxima);
    for (var a = 0u; a < ROW_QUADS; a++) {
      sums[a] = sums[a] * correction[a] + ((s[0][a] + s[1][a]) + (s[2][a] + s[3][a]));
    }
    scale_rows(&o0, correction);
    if (COLUMN_VECS > 1u) {
      scale_rows(&o1, correction);
    }
    if (COLUMN_VECS > 2u) {
      scale_rows(&o2, correction);
    }
    if (COLUMN_VECS > 3u) {
      scale_rows(&o3, correction);
    }
    // 3. mix: each key's probabilities from its lane, times its value at this lane's columns
    mix_slots(&o0, &o1, &o2, &o3, s, tile, team.bases, own, first);
  }

  for (var a = 0u; a < ROW_QUADS; a++) {
    sums[a] = team_sum(sums[a]);
  }
  if (team.stores) {
    store_output_rows(o0, 0u, team, sums, own);
    if (COLUMN_VECS > 1u) {
      store_output_rows(o1, 1u, team, sums, own);
    }
    if (COLUMN_VECS > 2u) {
      store_output_rows(o2, 2u, team, sums, own);
    }
    if (COLUMN_VECS > 3u) {
      store_output_rows(o3, 3u, team, sums, own);
    }
    if (own < ROW_QUADS) {
      // natural-log log-sum-exp of the scaled scores of rows 4 own .. 4 own + 3
      let lse = (running_max[own] + log2(sums[own])) * 0.6931471805599453;
      for (var i = 0u; i < 4u; i++) {
        let row = team.first_row + 4u * own + i;
        if (row < n) {
          log_sum_exp[team.head * n + row] = lse[i];
        }
      }
    }
  }
}
