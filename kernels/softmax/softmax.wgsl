// Softmax (LOG = 0) or log-softmax (LOG = 1) over the last axis of x * inverse_temperature.
// `main`: one workgroup per row (long rows). Each invocation keeps a running (max, sum of exp)
// over its strided elements (online softmax); the pairs are merged in workgroup memory, then the
// row is written. `short_rows`: one invocation per row (short rows; flat launch over rows), plain
// loops with four running maxima, then four running sums of exp, and no barriers.

override WORKGROUP_SIZE: u32 = 256u;
override LOG: u32 = 0u;

// #include "row_main.wgsl"
// #include "row_softmax.wgsl"
// #include "softmax_params.wgsl"

// The params: include/softmax_params.wgsl.
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

// The values of row_softmax.wgsl: x * t. (t > 0 and rounding is monotonic, so the maximum of
// x * t is exactly max(x) * t.)
fn row_value(index: u32) -> f32 {
  return x[index] * params.inverse_temperature;
}

// Writes y of row `row`, columns first, first + step, ..., given its statistics.
fn write_row(row: u32, first: u32, step: u32, statistics: RunningSoftmax) {
  let base = row * params.length;
  let t = params.inverse_temperature;
  if (LOG == 1u) {
    let offset = statistics.maximum + log(statistics.sum);
    for (var k = first; k < params.length; k += step) {
      y[base + k] = x[base + k] * t - offset;
    }
  } else {
    let inverse_sum = 1.0 / statistics.sum;
    for (var k = first; k < params.length; k += step) {
      y[base + k] = exp(x[base + k] * t - statistics.maximum) * inverse_sum;
    }
  }
}

// One row (row_main.wgsl), shared by the workgroup or owned by one invocation.
fn long_row(lane: u32, row: u32) {
  write_row(row, lane, WORKGROUP_SIZE, workgroup_row_softmax(lane, row));
}

fn short_row(row: u32) {
  write_row(row, 0u, 1u, short_row_softmax(row));
}
