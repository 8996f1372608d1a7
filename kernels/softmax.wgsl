// Softmax (LOG = 0) or log-softmax (LOG = 1) over the last axis of x * inverse_temperature, one
// workgroup per row. Each invocation keeps a running (max, sum of exp) over its strided elements
// (online softmax); the pairs are merged in workgroup memory, then the row is written.

override WORKGROUP_SIZE: u32 = 256u;
override LOG: u32 = 0u;

struct Params {
  rows: u32,
  length: u32,
  inverse_temperature: f32,
  unused: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

// A finite stand-in for -infinity, so that merging two empty partials gives exp(0) * 0 = 0.
const LOWEST: f32 = -3.0e38;

var<workgroup> maxima: array<f32, WORKGROUP_SIZE>;
var<workgroup> sums: array<f32, WORKGROUP_SIZE>;

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
  var running_max = LOWEST;
  var running_sum = 0.0;
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    let v = x[base + k] * params.inverse_temperature;
    if (v > running_max) {
      running_sum = running_sum * exp(running_max - v) + 1.0;
      running_max = v;
    } else {
      running_sum += exp(v - running_max);
    }
  }
  maxima[lane] = running_max;
  sums[lane] = running_sum;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
    if (lane < stride) {
      let m1 = maxima[lane];
      let m2 = maxima[lane + stride];
      let m = max(m1, m2);
      sums[lane] = sums[lane] * exp(m1 - m) + sums[lane + stride] * exp(m2 - m);
      maxima[lane] = m;
    }
    workgroupBarrier();
  }
  let row_max = maxima[0];
  let row_sum = sums[0];
  if (LOG == 1u) {
    let offset = row_max + log(row_sum);
    for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
      y[base + k] = x[base + k] * params.inverse_temperature - offset;
    }
  } else {
    let inverse_sum = 1.0 / row_sum;
    for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
      y[base + k] = exp(x[base + k] * params.inverse_temperature - row_max) * inverse_sum;
    }
  }
}
