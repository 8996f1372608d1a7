// Sinkhorn-Knopp row step over q [rows, cols]: one workgroup per row divides the row by
// (its sum * divisor); divisor = rows in the iterations, 1 in the last (DINOv2 multiplies by B at
// the end, so each row of the result sums to 1).

override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  rows: u32,
  cols: u32,
  divisor: f32,
  unused: u32,
}

@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(workgroup_id) group: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) lane: u32,
) {
  let row = group.x + group.y * groups.x;
  let valid = row < params.rows;
  let base = row * params.cols;
  var total = 0.0;
  if (valid) {
    for (var k = lane; k < params.cols; k += WORKGROUP_SIZE) {
      total += q[base + k];
    }
  }
  partial[lane] = total;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
    if (lane < stride) {
      partial[lane] = partial[lane] + partial[lane + stride];
    }
    workgroupBarrier();
  }
  if (valid) {
    let factor = 1.0 / (partial[0] * params.divisor);
    for (var k = lane; k < params.cols; k += WORKGROUP_SIZE) {
      q[base + k] = q[base + k] * factor;
    }
  }
}
