// Entropy -sum_k p log p of each row of p [rows, cols] (a monitor of Sinkhorn-normalised teacher
// targets, which have no log-probabilities at hand); zero entries contribute 0. One workgroup
// per row.

override WORKGROUP_SIZE: u32 = 64u;

// #include "row_group.wgsl"
// #include "workgroup_sum.wgsl"

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<storage, read> p: array<f32>;
@group(0) @binding(1) var<storage, read_write> entropy: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(at: RowGroup, @builtin(local_invocation_index) lane: u32) {
  let row = group_row(at);
  let valid = row < params.rows;
  var total = 0.0;
  if (valid) {
    for (var k = lane; k < params.cols; k += WORKGROUP_SIZE) {
      let value = p[row * params.cols + k];
      if (value > 0.0) {
        total -= value * log(value);
      }
    }
  }
  let row_total = workgroup_sum(lane, total);
  if (valid && lane == 0u) {
    entropy[row] = row_total;
  }
}
