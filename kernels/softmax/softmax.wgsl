// Softmax (LOG = 0) or log-softmax (LOG = 1) over the last axis of x * inverse_temperature.
// `main`: one workgroup per row (long rows). Each invocation keeps a running (max, sum of exp)
// over its strided elements (online softmax); the pairs are merged in workgroup memory, then the
// row is written. `short_rows`: one invocation per row (short rows; flat launch over rows), plain
// loops with four running maxima, then four running sums of exp, and no barriers.

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

// #include "row_softmax.wgsl"

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
  var state = running_softmax_start();
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    state = running_softmax_add(state, x[base + k] * params.inverse_temperature);
  }
  let statistics = workgroup_softmax_merge(lane, state);
  let row_max = statistics.maximum;
  let row_sum = statistics.sum;
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

@compute @workgroup_size(WORKGROUP_SIZE)
fn short_rows(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (row >= params.rows) {
    return;
  }
  let length = params.length;
  let base = row * length;
  let t = params.inverse_temperature;
  // t > 0 and rounding is monotonic, so max(x) * t is exactly max(x * t).
  var m0 = LOWEST;
  var m1 = LOWEST;
  var m2 = LOWEST;
  var m3 = LOWEST;
  var k = 0u;
  for (; k + 4u <= length; k += 4u) {
    m0 = max(m0, x[base + k]);
    m1 = max(m1, x[base + k + 1u]);
    m2 = max(m2, x[base + k + 2u]);
    m3 = max(m3, x[base + k + 3u]);
  }
  for (; k < length; k++) {
    m0 = max(m0, x[base + k]);
  }
  let row_max = max(max(m0, m1), max(m2, m3)) * t;
  // Four interleaved sums: shorter dependency chains and smaller rounding error.
  var s0 = 0.0;
  var s1 = 0.0;
  var s2 = 0.0;
  var s3 = 0.0;
  k = 0u;
  for (; k + 4u <= length; k += 4u) {
    s0 += exp(x[base + k] * t - row_max);
    s1 += exp(x[base + k + 1u] * t - row_max);
    s2 += exp(x[base + k + 2u] * t - row_max);
    s3 += exp(x[base + k + 3u] * t - row_max);
  }
  for (; k < length; k++) {
    s0 += exp(x[base + k] * t - row_max);
  }
  let row_sum = (s0 + s1) + (s2 + s3);
  if (LOG == 1u) {
    let offset = row_max + log(row_sum);
    for (k = 0u; k < length; k++) {
      y[base + k] = x[base + k] * t - offset;
    }
  } else {
    let inverse_sum = 1.0 / row_sum;
    for (k = 0u; k < length; k++) {
      y[base + k] = exp(x[base + k] * t - row_max) * inverse_sum;
    }
  }
}
