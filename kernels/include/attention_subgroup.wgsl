// Shared by the "subgroup" fused attention kernels (attention/subgroup_*): the team layout of
// include/attention_team.wgsl, with the 8 lanes of a team exchanging rows and scores through
// subgroupShuffle (the team's lanes are one aligned group of 8 subgroup lanes: the kernels run
// only where the subgroup size is a multiple of 8 and the lane check of src/gpu/subgroup_lanes.ts
// passed). Lane `first + r` (first = lane & ~7) holds row r and r + 8 of the team's loads.
// #include "attention_team.wgsl"

// Rows 4a .. 4a + 3 of the team (a < 4) as the columns of a matrix, from the lanes that loaded
// them: `low` holds row own of each lane, `high` row own + 8.
fn team_rows(low: vec4f, high: vec4f, a: u32, first: u32) -> mat4x4f {
  let source = select(low, high, a >= 2u);
  let lane = first + 4u * (a & 1u);
  return mat4x4f(
    subgroupShuffle(source, lane),
    subgroupShuffle(source, lane + 1u),
    subgroupShuffle(source, lane + 2u),
    subgroupShuffle(source, lane + 3u),
  );
}

// The sum over the team's 8 lanes (aligned lanes first .. first + 7).
fn team_sum(value: vec4f) -> vec4f {
  var total = value + subgroupShuffleXor(value, 1u);
  total += subgroupShuffleXor(total, 2u);
  return total + subgroupShuffleXor(total, 4u);
}

// The maximum over the team's 8 lanes.
fn team_max(value: vec4f) -> vec4f {
  var largest = max(value, subgroupShuffleXor(value, 1u));
  largest = max(largest, subgroupShuffleXor(largest, 2u));
  return max(largest, subgroupShuffleXor(largest, 4u));
}

// The 4 vec4s (16 rows) of `slot` from lane `source` of the team.
fn shuffled(slot: array<vec4f, ROW_QUADS>, source: u32) -> array<vec4f, ROW_QUADS> {
  return array<vec4f, ROW_QUADS>(
    subgroupShuffle(slot[0], source),
    subgroupShuffle(slot[1], source),
    subgroupShuffle(slot[2], source),
    subgroupShuffle(slot[3], source),
  );
}

// The team's 16 rows at one head vec4 as 4 matrices (rows 4a .. 4a + 3 the columns of matrix a).
fn team_matrices(low: vec4f, high: vec4f, first: u32) -> array<mat4x4f, ROW_QUADS> {
  return array<mat4x4f, ROW_QUADS>(
    team_rows(low, high, 0u, first),
    team_rows(low, high, 1u, first),
    team_rows(low, high, 2u, first),
    team_rows(low, high, 3u, first),
  );
}

// Adds, for the 8 rows first_row .. first_row + 7 of the streamed operand (row first_row + u is
// lane first + u's, whose `slot` holds its weights for the team's 16 rows), the weights times
// that row at this lane's vec4 columns own + 8 c (c < COLUMN_VECS) to acc0 .. acc3. The rows are
// the includer's: `mixed_row(part, bases, row, vec)` returns vec4 `vec` of row `row` (clamped to
// n - 1) of what the kernel mixes, `part` picking one where it mixes two.
fn mix_rows(
  acc0: ptr<function, array<vec4f, TEAM_ROWS>>,
  acc1: ptr<function, array<vec4f, TEAM_ROWS>>,
  acc2: ptr<function, array<vec4f, TEAM_ROWS>>,
  acc3: ptr<function, array<vec4f, TEAM_ROWS>>,
  slot: array<vec4f, ROW_QUADS>,
  part: u32,
  first_row: u32,
  bases: HeadBases,
  own: u32,
  first: u32,
) {
  for (var u = 0u; u < 8u; u++) {
    let weights = shuffled(slot, first + u);
    let row = clamp_row(first_row + u);
    add_weighted_row(acc0, weights, mixed_row(part, bases, row, own));
    if (COLUMN_VECS > 1u) {
      add_weighted_row(acc1, weights, mixed_row(part, bases, row, own + 8u));
    }
    if (COLUMN_VECS > 2u) {
      add_weighted_row(acc2, weights, mixed_row(part, bases, row, own + 16u));
    }
    if (COLUMN_VECS > 3u) {
      add_weighted_row(acc3, weights, mixed_row(part, bases, row, own + 24u));
    }
  }
}
