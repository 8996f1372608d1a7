// Shared by the "subgroup" and "tiled" fused attention kernels (attention/subgroup_*, tiled_*): a
// workgroup of WORKGROUP_SIZE invocations is WORKGROUP_SIZE / 8 teams of 8 lanes, and each team
// computes TEAM_ROWS = 16 rows (queries, or keys for dk and dv) of one head, held as ROW_QUADS = 4
// vec4s over rows (rows 4a .. 4a + 3 in vec4 a). The teams of a launch are numbered across heads
// (team t: head t / blocks, rows 16 (t % blocks).., blocks = ceil(n / 16)), so a short head wastes
// no more than one team. Lane `own` (0..7) of a team loads rows own and own + 8 of the team and
// the columns 4 (own + 8 c) .. + 3 of the mixed rows for c < COLUMN_VECS; teams past the last head
// compute the last head again and store nothing (every lane stays active for the exchanges).
// Layouts and params: include/attention_params.wgsl.
// #include "attention_params.wgsl"

// invocations per workgroup: a multiple of 8
override WORKGROUP_SIZE: u32 = 64u;
// vec4 columns of the head each lane mixes: ceil(ceil(d / 4) / 8), 1..4
override COLUMN_VECS: u32 = 2u;

// #include "attention_vec_loads.wgsl"

const TEAM_ROWS: u32 = 16u;
const ROW_QUADS: u32 = 4u;
const MAX_COLUMN_VECS: u32 = 4u;

// Where a team works: head `head` (batch * heads + h), rows first_row .. first_row + 15, and
// whether it stores (teams past the last head do not).
struct Team {
  head: u32,
  first_row: u32,
  stores: bool,
  bases: HeadBases,
}

// The team of local invocation `local` in workgroup `group_index` (flat over x and y).
fn team_of(group_index: u32, local: u32) -> Team {
  let blocks = (params.n + TEAM_ROWS - 1u) / TEAM_ROWS;
  let index = group_index * (WORKGROUP_SIZE / 8u) + local / 8u;
  let head = min(index / blocks, params.batch_heads - 1u);
  let first_row = (index % blocks) * TEAM_ROWS;
  return Team(head, first_row, index / blocks < params.batch_heads, head_bases(head));
}

// Row `row` clamped to n - 1 (rows past n are computed from the last row, never stored).
fn clamp_row(row: u32) -> u32 {
  return min(row, params.n - 1u);
}

// Columns of vec4 `vec` of a row that lie inside d (0 past d).
fn columns_in(vec: u32) -> u32 {
  return min(4u, params.d - min(params.d, 4u * vec));
}

// `slot` (16 rows of one key or query) plus `key` dotted with the rows of `m`: 4 dot products per
// matrix.
fn add_dots(slot: array<vec4f, ROW_QUADS>, key: vec4f, m: array<mat4x4f, ROW_QUADS>) -> array<vec4f, ROW_QUADS> {
  return array<vec4f, ROW_QUADS>(
    slot[0] + key * m[0],
    slot[1] + key * m[1],
    slot[2] + key * m[2],
    slot[3] + key * m[3],
  );
}

// Accumulators of 16 rows at one vec4 column plus `weights` (a weight per row) times `row`.
fn add_weighted_row(acc: ptr<function, array<vec4f, TEAM_ROWS>>, weights: array<vec4f, ROW_QUADS>, row: vec4f) {
  for (var r = 0u; r < TEAM_ROWS; r++) {
    (*acc)[r] += weights[r / 4u][r % 4u] * row;
  }
}

// Accumulators of 16 rows times a factor per row.
fn scale_rows(acc: ptr<function, array<vec4f, TEAM_ROWS>>, factors: array<vec4f, ROW_QUADS>) {
  for (var r = 0u; r < TEAM_ROWS; r++) {
    (*acc)[r] *= factors[r / 4u][r % 4u];
  }
}
