// Gradient of LayerNorm with respect to x. `main`: one workgroup per row (long rows);
// `short_rows`: one invocation per row, plain loops (short rows; flat launch over rows). With
// xhat = (x - mean) * rstd and dxhat = grad_out * weight:
// grad_x = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)). flags: bit 0 weight present.
// Bindings: x, grad_out, row_mean, row_rstd and the params (0-3, from
// include/layer_norm_backward_inputs.wgsl), then weight (4) and grad_x (5, written).

override WORKGROUP_SIZE: u32 = 256u;

// #include "layer_norm_backward_inputs.wgsl"
// #include "row_main.wgsl"
// #include "row_pair_sum.wgsl"

@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad_x: array<f32>;

fn scaled_grad(index: u32, k: u32) -> f32 {
  if ((params.flags & 1u) != 0u) {
    return grad_out[index] * weight[k];
  }
  return grad_out[index];
}

// The two terms of row_pair_sum.wgsl, dxhat and dxhat * xhat, with shift = (mean, rstd).
fn row_pair(index: u32, k: u32, shift: vec2f) -> vec2f {
  let dxhat = scaled_grad(index, k);
  return vec2f(dxhat, dxhat * (x[index] - shift.x) * shift.y);
}

// Writes grad_x of row `row`, columns first, first + step, ..., given the row's sums of dxhat
// and dxhat * xhat.
fn write_row(row: u32, first: u32, step: u32, sums: vec2f) {
  let base = row * params.length;
  let rstd = row_rstd[row];
  let count = f32(params.length);
  let mean_dxhat = sums.x / count;
  let mean_dxhat_xhat = sums.y / count;
  for (var k = first; k < params.length; k += step) {
    let centered = scaled_grad(base + k, k) - mean_dxhat;
    grad_x[base + k] = rstd * (centered - xhat(row, base + k) * mean_dxhat_xhat);
  }
}

// One row (row_main.wgsl), shared by the workgroup or owned by one invocation.
fn long_row(lane: u32, row: u32) {
  let statistics = vec2f(row_mean[row], row_rstd[row]);
  write_row(row, lane, WORKGROUP_SIZE, workgroup_row_sum_pair(lane, row, statistics));
}

fn short_row(row: u32) {
  let statistics = vec2f(row_mean[row], row_rstd[row]);
  write_row(row, 0u, 1u, short_row_sum_pair(row, statistics));
}
