// Gradient of softmax (LOG = 0) or log-softmax (LOG = 1) of x * inverse_temperature, from the
// forward output y. `main`: one workgroup per row (long rows); `short_rows`: one invocation per
// row with plain loops and no barriers (short rows; flat launch over rows).
// softmax: grad_x = t * y * (g - sum(g * y)); log-softmax: grad_x = t * (g - exp(y) * sum(g)).

override WORKGROUP_SIZE: u32 = 256u;
override LOG: u32 = 0u;

// #include "row_main.wgsl"
// #include "row_term_sum.wgsl"
// #include "softmax_params.wgsl"

// The params: include/softmax_params.wgsl.
@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> grad_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad_x: array<f32>;

// The one term of row_term_sum.wgsl: g (log-softmax) or g * y (softmax).
fn row_term(term: u32, index: u32, shift: f32) -> f32 {
  if (LOG == 1u) {
    return grad_out[index];
  }
  return grad_out[index] * y[index];
}

// Writes grad_x of row `row`, columns first, first + step, ..., given the row's sum.
fn write_row(row: u32, first: u32, step: u32, row_total: f32) {
  let base = row * params.length;
  let t = params.inverse_temperature;
  for (var k = first; k < params.length; k += step) {
    if (LOG == 1u) {
      grad_x[base + k] = t * (grad_out[base + k] - exp(y[base + k]) * row_total);
    } else {
      grad_x[base + k] = t * y[base + k] * (grad_out[base + k] - row_total);
    }
  }
}

// One row (row_main.wgsl), shared by the workgroup or owned by one invocation.
fn long_row(lane: u32, row: u32) {
  write_row(row, lane, WORKGROUP_SIZE, workgroup_row_sum(lane, row, 0u, 0.0));
}

fn short_row(row: u32) {
  write_row(row, 0u, 1u, short_row_sum(row, 0u, 0.0));
}
