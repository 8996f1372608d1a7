// Sinkhorn-Knopp row step over q [rows, cols]: one workgroup per row divides the row by
// (its sum * divisor); divisor = rows in the iterations, 1 in the last (DINOv2 multiplies by B at
// the end, so each row of the result sums to 1).

override WORKGROUP_SIZE: u32 = 64u;

// #include "row_group.wgsl"
// #include "workgroup_sum.wgsl"

struct Params {
  rows: u32,
  cols: u32,
  divisor: f32,
  unused: u32,
}

@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(at: RowGroup, @builtin(local_invocation_index) lane: u32) {
  let row = group_row(at);
  let valid = row < params.rows;
  let base = row * params.cols;
  var total = 0.0;
  if (valid) {
    for (var k = lane; k < params.cols; k += WORKGROUP_SIZE) {
      total += q[base + k];
    }
  }
  let row_total = workgroup_sum(lane, total);
  if (valid) {
    let factor = 1.0 / (row_total * params.divisor);
    for (var k = lane; k < params.cols; k += WORKGROUP_SIZE) {
      q[base + k] = q[base + k] * factor;
    }
  }
}
