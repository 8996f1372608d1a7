// Sinkhorn-Knopp row step over q [rows, cols]: one workgroup per row divides the row by
// (its sum * divisor); divisor = rows in the iterations, 1 in the last (DINOv2 multiplies by B at
// the end, so each row of the result sums to 1).

override WORKGROUP_SIZE: u32 = 64u;

// #include "row_group.wgsl"
// #include "row_term_sum.wgsl"

struct Params {
  rows: u32,
  // cols
  length: u32,
  divisor: f32,
  unused: u32,
}

@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

// The one term of row_term_sum.wgsl: q.
fn row_term(term: u32, index: u32, shift: f32) -> f32 {
  return q[index];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(at: RowGroup, @builtin(local_invocation_index) lane: u32) {
  let row = group_row(at);
  if (row >= params.rows) {
    return;
  }
  let factor = 1.0 / (workgroup_row_sum(lane, row, 0u, 0.0) * params.divisor);
  let base = row * params.length;
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    q[base + k] = q[base + k] * factor;
  }
}
