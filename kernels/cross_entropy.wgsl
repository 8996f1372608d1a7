// Soft-target cross-entropy over the last axis: loss[r] = -sum_c target[r, c] * log_p[r, c],
// one workgroup per row.

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  rows: u32,
  length: u32,
}

@group(0) @binding(0) var<storage, read> target_values: array<f32>;
@group(0) @binding(1) var<storage, read> log_p: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

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
  partial[lane] = total;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
    if (lane < stride) {
      partial[lane] += partial[lane + stride];
    }
    workgroupBarrier();
  }
  if (lane == 0u) {
    loss[row] = -partial[0];
  }
}
