// Cross-entropy with integer labels over rows of logits [rows, classes]. `main`: one workgroup per
// row (long rows); `short_rows`: one invocation per row with plain loops and no barriers (short
// rows; flat launch over rows).
// lse[r] = logsumexp(logits[r, :]), loss[r] = lse[r] - logits[r, labels[r]].
// A label outside [0, classes) gives NaN. The Params (rows, length = classes):
// include/row_params.wgsl.

override WORKGROUP_SIZE: u32 = 256u;

// #include "row_main.wgsl"
// #include "row_softmax.wgsl"
// #include "row_params.wgsl"

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;

// The values of row_softmax.wgsl: the logits.
fn row_value(index: u32) -> f32 {
  return logits[index];
}

// Writes lse and the loss of row `row`, given its statistics.
fn write_row(row: u32, statistics: RunningSoftmax) {
  let row_lse = statistics.maximum + log(statistics.sum);
  lse[row] = row_lse;
  let label = labels[row];
  if (label >= 0 && u32(label) < params.length) {
    loss[row] = row_lse - logits[row * params.length + u32(label)];
  } else {
    let nan_bits = 0x7fc00000u;
    loss[row] = bitcast<f32>(nan_bits);
  }
}

// One row (row_main.wgsl), shared by the workgroup or owned by one invocation.
fn long_row(lane: u32, row: u32) {
  let statistics = workgroup_row_softmax(lane, row);
  if (lane == 0u) {
    write_row(row, statistics);
  }
}

fn short_row(row: u32) {
  write_row(row, short_row_softmax(row));
}
