// Entropy -sum_k p log p of each row of p [rows, cols] (a monitor of Sinkhorn-normalised teacher
// targets, which have no log-probabilities at hand); zero entries contribute 0. One workgroup
// per row. The Params (rows, length = cols): include/row_params.wgsl.

override WORKGROUP_SIZE: u32 = 64u;

// #include "row_group.wgsl"
// #include "row_term_sum.wgsl"
// #include "row_params.wgsl"

@group(0) @binding(0) var<storage, read> p: array<f32>;
@group(0) @binding(1) var<storage, read_write> entropy: array<f32>;

// The one term of row_term_sum.wgsl: -p log p, 0 where p is 0.
fn row_term(term: u32, index: u32, shift: f32) -> f32 {
  let value = p[index];
  if (value > 0.0) {
    return -value * log(value);
  }
  return 0.0;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(at: RowGroup, @builtin(local_invocation_index) lane: u32) {
  let row = group_row(at);
  if (row >= params.rows) {
    return;
  }
  let row_total = workgroup_row_sum(lane, row, 0u, 0.0);
  if (lane == 0u) {
    entropy[row] = row_total;
  }
}
