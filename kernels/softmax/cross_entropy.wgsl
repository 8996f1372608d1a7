// Soft-target cross-entropy over the last axis: loss[r] = -sum_c target[r, c] * log_p[r, c],
// `main`: one workgroup per row (long rows); `short_rows`: one invocation per row with plain loops
// and no barriers (short rows; flat launch over rows).

override WORKGROUP_SIZE: u32 = 256u;

// #include "row_group.wgsl"
// #include "row_term_sum.wgsl"

struct Params {
  rows: u32,
  length: u32,
}

@group(0) @binding(0) var<storage, read> target_values: array<f32>;
@group(0) @binding(1) var<storage, read> log_p: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

// The one term of row_term_sum.wgsl: target * log_p.
fn row_term(term: u32, index: u32, shift: f32) -> f32 {
  return target_values[index] * log_p[index];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(at: RowGroup, @builtin(local_invocation_index) lane: u32) {
  let row = group_row(at);
  if (row >= params.rows) {
    return;
  }
  let row_total = workgroup_row_sum(lane, row, 0u, 0.0);
  if (lane == 0u) {
    loss[row] = -row_total;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn short_rows(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = flat_index(id, groups);
  if (row >= params.rows) {
    return;
  }
  loss[row] = -short_row_sum(row, 0u, 0.0);
}
