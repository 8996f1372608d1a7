// Gradient of softmax (LOG = 0) or log-softmax (LOG = 1) of x * inverse_temperature, from the
// forward output y. `main`: one workgroup per row (long rows); `short_rows`: one invocation per
// row with plain loops and no barriers (short rows; flat launch over rows).
// softmax: grad_x = t * y * (g - sum(g * y)); log-softmax: grad_x = t * (g - exp(y) * sum(g)).

override WORKGROUP_SIZE: u32 = 256u;
override LOG: u32 = 0u;

struct Params {
  rows: u32,
  length: u32,
  inverse_temperature: f32,
  unused: u32,
}

@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> grad_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad_x: array<f32>;
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
  var total = 0.0;
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    if (LOG == 1u) {
      total += grad_out[base + k];
    } else {
      total += grad_out[base + k] * y[base + k];
    }
  }
  let row_total = workgroup_sum(lane, total);
  let t = params.inverse_temperature;
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    if (LOG == 1u) {
      grad_x[base + k] = t * (grad_out[base + k] - exp(y[base + k]) * row_total);
    } else {
      grad_x[base + k] = t * y[base + k] * (grad_out[base + k] - row_total);
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
  // Four interleaved sums: shorter dependency chains and smaller rounding error.
  var s0 = 0.0;
  var s1 = 0.0;
  var s2 = 0.0;
  var s3 = 0.0;
  var k = 0u;
  if (LOG == 1u) {
    for (; k + 4u <= length; k += 4u) {
      s0 += grad_out[base + k];
      s1 += grad_out[base + k + 1u];
      s2 += grad_out[base + k + 2u];
      s3 += grad_out[base + k + 3u];
    }
    for (; k < length; k++) {
      s0 += grad_out[base + k];
    }
  } else {
    for (; k + 4u <= length; k += 4u) {
      s0 += grad_out[base + k] * y[base + k];
      s1 += grad_out[base + k + 1u] * y[base + k + 1u];
      s2 += grad_out[base + k + 2u] * y[base + k + 2u];
      s3 += grad_out[base + k + 3u] * y[base + k + 3u];
    }
    for (; k < length; k++) {
      s0 += grad_out[base + k] * y[base + k];
    }
  }
  let row_total = (s0 + s1) + (s2 + s3);
  let t = params.inverse_temperature;
  if (LOG == 1u) {
    for (k = 0u; k < length; k++) {
      grad_x[base + k] = t * (grad_out[base + k] - exp(y[base + k]) * row_total);
    }
  } else {
    for (k = 0u; k < length; k++) {
      grad_x[base + k] = t * y[base + k] * (grad_out[base + k] - row_total);
    }
  }
}
