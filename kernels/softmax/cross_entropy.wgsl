// Soft-target cross-entropy over the last axis: loss[r] = -sum_c target[r, c] * log_p[r, c],
// `main`: one workgroup per row (long rows); `short_rows`: one invocation per row with plain loops
// and no barriers (short rows; flat launch over rows). The Params (rows, length):
// include/row_params.wgsl.

override WORKGROUP_SIZE: u32 = 256u;

// #include "row_main.wgsl"
// #include "row_term_sum.wgsl"
// #include "row_params.wgsl"

@group(0) @binding(0) var<storage, read> target_values: array<f32>;
@group(0) @binding(1) var<storage, read> log_p: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;

// The one term of row_term_sum.wgsl: target * log_p.
fn row_term(term: u32, index: u32, shift: f32) -> f32 {
  return target_values[index] * log_p[index];
}

// One row (row_main.wgsl), shared by the workgroup or owned by one invocation.
fn long_row(lane: u32, row: u32) {
  let row_total = workgroup_row_sum(lane, row, 0u, 0.0);
  if (lane == 0u) {
    loss[row] = -row_total;
  }
}

fn short_row(row: u32) {
  loss[row] = -short_row_sum(row, 0u, 0.0);
}
