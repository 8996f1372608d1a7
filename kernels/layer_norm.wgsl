// LayerNorm over the last axis, one workgroup per row:
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

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

fn reduce(lane: u32, value: f32) -> f32 {
  partial[lane] = value;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
    if (lane < stride) {
      partial[lane] += partial[lane + stride];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
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
  let count = f32(params.length);
  var total = 0.0;
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    total += x[base + k];
  }
  let mean = reduce(lane, total) / count;
  var squares = 0.0;
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    let centered = x[base + k] - mean;
    squares += centered * centered;
  }
  let rstd = inverseSqrt(reduce(lane, squares) / count + params.eps);
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
