// LayerNorm over the last axis. `main`: one workgroup per row (long rows); `short_rows`: one
// invocation per row with plain loops and no barriers (short rows; flat launch over rows):
// y = (x - mean) * rstd * weight + bias with rstd = 1 / sqrt(biased variance + eps).
// Also writes each row's mean and rstd for the backward pass. flags: bit 0 weight, bit 1 bias
// (an absent weight or bias is bound to any buffer and never read).

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  rows: u32,
  length: u32,
  eps: f32,
  flags: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> row_mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> row_rstd: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

// #include "row_sum.wgsl"

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
  let count = f32(params.length);
  var total = 0.0;
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    total += x[base + k];
  }
  let mean = workgroup_sum(lane, total) / count;
  var squares = 0.0;
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    let centered = x[base + k] - mean;
    squares += centered * centered;
  }
  let rstd = inverseSqrt(workgroup_sum(lane, squares) / count + params.eps);
  let has_weight = (params.flags & 1u) != 0u;
  let has_bias = (params.flags & 2u) != 0u;
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    var value = (x[base + k] - mean) * rstd;
    if (has_weight) {
      value *= weight[k];
    }
    if (has_bias) {
      value += bias[k];
    }
    y[base + k] = value;
  }
  if (lane == 0u) {
    row_mean[row] = mean;
    row_rstd[row] = rstd;
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
  let count = f32(length);
  // Four interleaved accumulators: shorter dependency chains and smaller rounding error.
  var t0 = 0.0;
  var t1 = 0.0;
  var t2 = 0.0;
  var t3 = 0.0;
  var k = 0u;
  for (; k + 4u <= length; k += 4u) {
    t0 += x[base + k];
    t1 += x[base + k + 1u];
    t2 += x[base + k + 2u];
    t3 += x[base + k + 3u];
  }
  for (; k < length; k++) {
    t0 += x[base + k];
  }
  let mean = ((t0 + t1) + (t2 + t3)) / count;
  var s0 = 0.0;
  var s1 = 0.0;
  var s2 = 0.0;
  var s3 = 0.0;
  k = 0u;
  for (; k + 4u <= length; k += 4u) {
    let c0 = x[base + k] - mean;
    let c1 = x[base + k + 1u] - mean;
    let c2 = x[base + k + 2u] - mean;
    let c3 = x[base + k + 3u] - mean;
    s0 += c0 * c0;
    s1 += c1 * c1;
    s2 += c2 * c2;
    s3 += c3 * c3;
  }
  for (; k < length; k++) {
    let c0 = x[base + k] - mean;
    s0 += c0 * c0;
  }
  let rstd = inverseSqrt(((s0 + s1) + (s2 + s3)) / count + params.eps);
  let has_weight = (params.flags & 1u) != 0u;
  let has_bias = (params.flags & 2u) != 0u;
  for (k = 0u; k < length; k++) {
    var value = (x[base + k] - mean) * rstd;
    if (has_weight) {
      value *= weight[k];
    }
    if (has_bias) {
      value += bias[k];
    }
    y[base + k] = value;
  }
  row_mean[row] = mean;
  row_rstd[row] = rstd;
}
