// Gradient of LayerNorm with respect to x. `main`: one workgroup per row (long rows);
// `short_rows`: one invocation per row, plain loops (short rows; flat launch over rows). With xhat = (x - mean) * rstd
// and dxhat = grad_out * weight: grad_x = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
// flags: bit 0 weight present.

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  rows: u32,
  length: u32,
  flags: u32,
  unused: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> grad_out: array<f32>;
@group(0) @binding(3) var<storage, read> row_mean: array<f32>;
@group(0) @binding(4) var<storage, read> row_rstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad_x: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

// #include "row_sum.wgsl"

fn scaled_grad(index: u32, k: u32) -> f32 {
  if ((params.flags & 1u) != 0u) {
    return grad_out[index] * weight[k];
  }
  return grad_out[index];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(workgroup_id) group: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) lane: u32,
) {
  let row = group.x + group.y * groups.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.length;
  let mean = row_mean[row];
  let rstd = row_rstd[row];
  var sum_dxhat = 0.0;
  var sum_dxhat_xhat = 0.0;
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    let dxhat = scaled_grad(base + k, k);
    sum_dxhat += dxhat;
    sum_dxhat_xhat += dxhat * (x[base + k] - mean) * rstd;
  }
  let sums = workgroup_sum_pair(lane, sum_dxhat, sum_dxhat_xhat);
  let count = f32(params.length);
  let mean_dxhat = sums.x / count;
  let mean_dxhat_xhat = sums.y / count;
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    let xhat = (x[base + k] - mean) * rstd;
    grad_x[base + k] = rstd * (scaled_grad(base + k, k) - mean_dxhat - xhat * mean_dxhat_xhat);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn short_rows(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (row >= params.rows) {
    return;
  }
  let length = params.length;
  let base = row * length;
  let mean = row_mean[row];
  let rstd = row_rstd[row];
  // Two interleaved accumulators per sum: shorter dependency chains, smaller rounding error.
  var a0 = 0.0;
  var a1 = 0.0;
  var b0 = 0.0;
  var b1 = 0.0;
  var k = 0u;
  for (; k + 2u <= length; k += 2u) {
    let d0 = scaled_grad(base + k, k);
    let d1 = scaled_grad(base + k + 1u, k + 1u);
    a0 += d0;
    a1 += d1;
    b0 += d0 * (x[base + k] - mean) * rstd;
    b1 += d1 * (x[base + k + 1u] - mean) * rstd;
  }
  if (k < length) {
    let d0 = scaled_grad(base + k, k);
    a0 += d0;
    b0 += d0 * (x[base + k] - mean) * rstd;
  }
  let count = f32(length);
  let mean_dxhat = (a0 + a1) / count;
  let mean_dxhat_xhat = (b0 + b1) / count;
  for (k = 0u; k < length; k++) {
    let xhat = (x[base + k] - mean) * rstd;
    grad_x[base + k] = rstd * (scaled_grad(base + k, k) - mean_dxhat - xhat * mean_dxhat_xhat);
  }
}
