// Index bookkeeping of gatherRows / scatterRows on an i32 list of `count` row indices into
// `rows` rows (no float atomics, no readback). Each entry point writes one i32 per row or per
// index; element i of a launch is at flat_index i (include/flat_index.wgsl).

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_index.wgsl"

struct Params {
  count: u32,
  rows: u32,
}

@group(0) @binding(0) var<storage, read_write> result: array<i32>;
@group(0) @binding(1) var<storage, read> indices: array<i32>;
@group(1) @binding(0) var<uniform> params: Params;

// The first k in [first, count) with indices[k] == row (the last with `last`), or -1.
fn find(row: i32, first: u32, last: bool) -> i32 {
  var found = -1;
  for (var k = first; k < params.count; k++) {
    if (indices[k] == row) {
      found = i32(k);
      if (!last) {
        break;
      }
    }
  }
  return found;
}

// result[r] = first k with indices[k] == r, or -1 (one invocation per row).
@compute @workgroup_size(WORKGROUP_SIZE)
fn first_of_row(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let r = flat_index(id, groups);
  if (r < params.rows) {
    result[r] = find(i32(r), 0u, false);
  }
}

// result[r] = last k with indices[k] == r, or -1 (one invocation per row).
@compute @workgroup_size(WORKGROUP_SIZE)
fn last_of_row(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let r = flat_index(id, groups);
  if (r < params.rows) {
    result[r] = find(i32(r), 0u, true);
  }
}

// result[k] = the next k' > k with indices[k'] == indices[k], or -1 (one invocation per index).
@compute @workgroup_size(WORKGROUP_SIZE)
fn next_same(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let k = flat_index(id, groups);
  if (k < params.count) {
    result[k] = find(indices[k], k + 1u, false);
  }
}

// result[k] = indices[k] where no later index repeats it, else -1 (the writes that survive a
// scatter with repeated indices; one invocation per index).
@compute @workgroup_size(WORKGROUP_SIZE)
fn keep_last(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let k = flat_index(id, groups);
  if (k < params.count) {
    result[k] = select(indices[k], -1, find(indices[k], k + 1u, false) >= 0);
  }
}
