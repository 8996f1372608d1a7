// Shared by the "shared_rows" fused attention kernels (attention/shared_rows_forward,
// shared_rows_backward_query, shared_rows_backward_key_value): the "rows" kernels' scheme (one
// invocation per query or key row holding it in registers, see attention_rows.wgsl) with the
// rows it streams shared across aligned groups of 8 subgroup lanes: each lane loads one streamed
// row of a chunk of 8 and the group passes them round by subgroupShuffle, so a row is loaded once
// per 8 lanes instead of once per lane (on llvmpipe / lavapipe each load of a lane-varying address
// is a loop over the lanes; a shuffle from a constant lane offset is a register move).
// Every head gets ceil(n / 8) * 8 invocations, so a group of 8 never straddles two heads:
// invocation r (flat_index) has slot r % slots of head r / slots; the slots past n (and past the
// last head) run with the last row clamped, load and shuffle like the others, and store nothing.
// Needs subgroups whose aligned groups of 8 lanes are 8 consecutive invocations (the subgroup
// matmul's condition, checked at start-up) and WORKGROUP_SIZE a multiple of 8.

// #include "attention_rows_common.wgsl"

// What an invocation computes: row `row` of head `head` (head * n + row = `index`), with the
// head's offsets; `live` is false for the slots past n or past the last head (their head and row
// are clamped and they store nothing). `first` is the subgroup lane of the group's first
// invocation, `own` this invocation's place in its group (which row of a chunk it loads).
struct SharedTask {
  index: u32,
  head: u32,
  row: u32,
  bases: HeadBases,
  live: bool,
  first: u32,
  own: u32,
}

// The streamed row this invocation loads for the chunk of rows chunk .. chunk + 7 (clamped).
fn streamed_row(task: SharedTask, chunk: u32) -> u32 {
  return min(chunk + task.own, params.n - 1u);
}

// The products of a with the row `rows` holds on subgroup lane `lane`, summed per vec4 lane (sum4
// of it is the dot product).
fn shared_dot4(
  a: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  rows: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  lane: u32,
) -> vec4f {
  var dot4 = vec4f(0.0);
  for (var v = 0u; v < HEAD_VECS; v++) {
    dot4 += (*a)[v] * subgroupShuffle((*rows)[v], lane);
  }
  return dot4;
}

// accumulator += weight * (the row `rows` holds on subgroup lane `lane`).
fn shared_add(
  accumulator: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  weight: f32,
  rows: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  lane: u32,
) {
  for (var v = 0u; v < HEAD_VECS; v++) {
    (*accumulator)[v] += weight * subgroupShuffle((*rows)[v], lane);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(global_invocation_id) id: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let slots = (params.n + 7u) / 8u * 8u;
  let index = flat_index(id, groups);
  let slot_head = index / slots;
  let slot = index - slot_head * slots;
  let head = min(slot_head, params.batch_heads - 1u);
  let row = min(slot, params.n - 1u);
  let live = slot_head < params.batch_heads && slot < params.n;
  compute_row(
    SharedTask(head * params.n + row, head, row, head_bases(head), live, lane & ~7u, lane & 7u),
  );
}
