// Gradient of LayerNorm with respect to x. `main`: one workgroup per row (long rows);
// `short_rows`: one invocation per row, plain loops (short rows; flat launch over rows). With
// xhat = (x - mean) * rstd and dxhat = grad_out * weight:
// grad_x = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)). flags: bit 0 weight present.
// Bindings: x, grad_out, row_mean, row_rstd and the params (0-3, from
// include/layer_norm_backward_inputs.wgsl), then weight (4) and grad_x (5, written).

override WORKGROUP_SIZE: u32 = 256u;

// #include "layer_norm_backward_inputs.wgsl"
// #include "row_main.wgsl"
// #include "row_main_vec4.wgsl"
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

// `short_rows_vec4`: `short_rows` where the length is a multiple of 4, the row read and written as
// vec4s (a quarter of the memory operations; the sums in four interleaved parts).
@group(0) @binding(0) var<storage, read> x4: array<vec4f>;
@group(0) @binding(1) var<storage, read> grad_out4: array<vec4f>;
@group(0) @binding(4) var<storage, read> weight4: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> grad_x4: array<vec4f>;

fn scaled_grad4(index: u32, k: u32) -> vec4f {
  if ((params.flags & 1u) != 0u) {
    return grad_out4[index] * weight4[k];
  }
  return grad_out4[index];
}

// One row of `short_rows_vec4` (include/row_main_vec4.wgsl).
fn short_row_vec4(row: u32) {
  let length4 = params.length / 4u;
  let base = row * length4;
  let mean = row_mean[row];
  let rstd = row_rstd[row];
  var sum_dxhat = vec4f(0.0);
  var sum_dxhat_xhat = vec4f(0.0);
  for (var k = 0u; k < length4; k++) {
    let dxhat = scaled_grad4(base + k, k);
    sum_dxhat += dxhat;
    sum_dxhat_xhat += dxhat * (x4[base + k] - mean) * rstd;
  }
  let count = f32(params.length);
  let mean_dxhat = ((sum_dxhat.x + sum_dxhat.z) + (sum_dxhat.y + sum_dxhat.w)) / count;
  let mean_dxhat_xhat =
    ((sum_dxhat_xhat.x + sum_dxhat_xhat.z) + (sum_dxhat_xhat.y + sum_dxhat_xhat.w)) / count;
  for (var k = 0u; k < length4; k++) {
    let centered = scaled_grad4(base + k, k) - mean_dxhat;
    let xhat4 = (x4[base + k] - mean) * rstd;
    grad_x4[base + k] = rstd * (centered - xhat4 * mean_dxhat_xhat);
  }
}
