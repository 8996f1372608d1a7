// Soft-target cross-entropy over the last axis: loss[r] = -sum_c target[r, c] * log_p[r, c],
// `main`: one workgroup per row (long rows); `short_rows`: one invocation per row with plain loops
// and no barriers (short rows; flat launch over rows).

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  rows: u32,
  length: u32,
}

@group(0) @binding(0) var<storage, read> target_values: array<f32>;
@group(0) @binding(1) var<storage, read> log_p: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

// #include "row_sum.wgsl"

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(workgroup_id) group: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) lane: u32,
) {
  let row = group.x + group.y * groups.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.length;
  var total = 0.0;
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    total += target_values[base + k] * log_p[base + k];
  }
  let row_total = workgroup_sum(lane, total);
  if (lane == 0u) {
    loss[row] = -row_total;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn short_rows(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (row >= params.rows) {
    return;
  }
  let length = params.length;
  let base = row * length;
  // Four interleaved sums: shorter dependency chains and smaller rounding error.
  var s0 = 0.0;
  var s1 = 0.0;
  var s2 = 0.0;
  var s3 = 0.0;
  var k = 0u;
  for (; k + 4u <= length; k += 4u) {
    s0 += target_values[base + k] * log_p[base + k];
    s1 += target_values[base + k + 1u] * log_p[base + k + 1u];
    s2 += target_values[base + k + 2u] * log_p[base + k + 2u];
    s3 += target_values[base + k + 3u] * log_p[base + k + 3u];
  }
  for (; k < length; k++) {
    s0 += target_values[base + k] * log_p[base + k];
  }
  loss[row] = -((s0 + s1) + (s2 + s3));
}
