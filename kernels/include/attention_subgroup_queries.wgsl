// Shared by the "subgroup" kernels whose teams own query rows and stream the keys
// (attention/subgroup_forward, subgroup_backward_query): tiles of 8 KEY_SLOTS keys, lane `own` of
// a team owning keys tile + own + 8 t of a tile (slot t < KEY_SLOTS) and holding per slot that
// key's scores with the team's 16 query rows (then its probabilities, or ds). The includer's
// `mixed_row` (see mix_rows) names the rows of the keys that mix_slots mixes.
// #include "attention_subgroup.wgsl"

// keys per lane per tile; the slots are written out as 0 .. 3 in the kernels
const KEY_SLOTS: u32 = 4u;

// Per slot, a value for each of the team's 16 rows (4 vec4s: rows 4a .. 4a + 3 in vec4 a).
alias KeySlots = array<array<vec4f, ROW_QUADS>, KEY_SLOTS>;

// Offsets of the lane's rows tile + own + 8 t (slot t; clamped to n - 1) of the tensor (k or v)
// whose head starts at `base`.
fn slot_rows(base: u32, tile: u32, own: u32) -> vec4u {
  let stride = params.in_row;
  return vec4u(
    base + clamp_row(tile + own) * stride,
    base + clamp_row(tile + own + 8u) * stride,
    base + clamp_row(tile + own + 16u) * stride,
    base + clamp_row(tile + own + 24u) * stride,
  );
}

// The scores (base 2) of the team's 16 query rows with the lane's keys of the tile at `tile`: per
// head vec4, the team's query rows (times scale * log2 e; rows own and own + 8 of the team at
// `low_query` and `high_query`) go round by subgroupShuffle and each lane adds their dot products
// with its keys.
fn key_scores(
  low_query: u32,
  high_query: u32,
  tile: u32,
  bases: HeadBases,
  own: u32,
  first: u32,
) -> KeySlots {
  let keys = slot_rows(bases.keys, tile, own);
  let vecs = (params.d + 3u) / 4u;
  var s: KeySlots;
  for (var vec = 0u; vec < vecs; vec++) {
    let low = load_query(low_query, vec) * params.scale_log2;
    let high = load_query(high_query, vec) * params.scale_log2;
    let m = team_matrices(low, high, first);
    s[0] = add_dots(s[0], load_key(keys[0], vec), m);
    s[1] = add_dots(s[1], load_key(keys[1], vec), m);
    s[2] = add_dots(s[2], load_key(keys[2], vec), m);
    s[3] = add_dots(s[3], load_key(keys[3], vec), m);
  }
  return s;
}

// Adds, for every key of the tile at `tile`, its weights for the team's rows (`slots` of the lane
// that owns it) times the key's mixed row at this lane's columns to acc0 .. acc3 (mix_rows with
// part 0).
fn mix_slots(
  acc0: ptr<function, array<vec4f, TEAM_ROWS>>,
  acc1: ptr<function, array<vec4f, TEAM_ROWS>>,
  acc2: ptr<function, array<vec4f, TEAM_ROWS>>,
  acc3: ptr<function, array<vec4f, TEAM_ROWS>>,
  slots: KeySlots,
  tile: u32,
  bases: HeadBases,
  own: u32,
  first: u32,
) {
  mix_rows(acc0, acc1, acc2, acc3, slots[0], 0u, tile, bases, own, first);
  mix_rows(acc0, acc1, acc2, acc3, slots[1], 0u, tile + 8u, bases, own, first);
  mix_rows(acc0, acc1, acc2, acc3, slots[2], 0u, tile + 16u, bases, own, first);
  mix_rows(acc0, acc1, acc2, acc3, slots[3], 0u, tile + 24u, bases, own, first);
}
