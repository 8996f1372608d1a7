// L2 normalisation over the last axis, y = x / max(||x||_2, eps). `forward` and `backward`: one
// workgroup per row (long rows); `forward_short_rows` and `backward_short_rows`: one invocation per
// row with plain loops and no barriers (short rows; flat launch over rows).
// Forward: binds x, result = y. Backward: binds x, result = grad_in, gradient = grad_out:
// grad_in = g / n - x (x . g) / n^3 when n = ||x|| > eps, else g / eps.

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  rows: u32,
  length: u32,
  eps: f32,
  unused: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> result: array<f32>;
@group(0) @binding(2) var<storage, read> gradient: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

// #include "row_sum.wgsl"

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(
  @builtin(workgroup_id) group: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) lane: u32,
) {
  let row = group.x + group.y * groups.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.length;
  var squares = 0.0;
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    let v = x[base + k];
    squares += v * v;
  }
  let inverse = 1.0 / max(sqrt(workgroup_sum(lane, squares)), params.eps);
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    result[base + k] = x[base + k] * inverse;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward(
  @builtin(workgroup_id) group: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) lane: u32,
) {
  let row = group.x + group.y * groups.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.length;
  var squares = 0.0;
  var dot = 0.0;
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    let v = x[base + k];
    squares += v * v;
    dot += v * gradient[base + k];
  }
  let sums = workgroup_sum_pair(lane, squares, dot);
  let norm = sqrt(sums.x);
  if (norm > params.eps) {
    let inverse = 1.0 / norm;
    let projection = sums.y * inverse * inverse * inverse;
    for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
      result[base + k] = gradient[base + k] * inverse - x[base + k] * projection;
    }
  } else {
    for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
      result[base + k] = gradient[base + k] / params.eps;
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward_short_rows(
  @builtin(global_invocation_id) id: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
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
  for (; k + 4u <= length; k += 4u) {
    let v0 = x[base + k];
    let v1 = x[base + k + 1u];
    let v2 = x[base + k + 2u];
    let v3 = x[base + k + 3u];
    s0 += v0 * v0;
    s1 += v1 * v1;
    s2 += v2 * v2;
    s3 += v3 * v3;
  }
  for (; k < length; k++) {
    let v0 = x[base + k];
    s0 += v0 * v0;
  }
  let inverse = 1.0 / max(sqrt((s0 + s1) + (s2 + s3)), params.eps);
  for (k = 0u; k < length; k++) {
    result[base + k] = x[base + k] * inverse;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_short_rows(
  @builtin(global_invocation_id) id: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let row = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (row >= params.rows) {
    return;
  }
  let length = params.length;
  let base = row * length;
  // Two interleaved accumulators per sum: shorter dependency chains, smaller rounding error.
  var a0 = 0.0;
  var a1 = 0.0;
  var b0 = 0.0;
  var b1 = 0.0;
  var k = 0u;
  for (; k + 2u <= length; k += 2u) {
    let v0 = x[base + k];
    let v1 = x[base + k + 1u];
    a0 += v0 * v0;
    a1 += v1 * v1;
    b0 += v0 * gradient[base + k];
    b1 += v1 * gradient[base + k + 1u];
  }
  if (k < length) {
    let v0 = x[base + k];
    a0 += v0 * v0;
    b0 += v0 * gradient[base + k];
  }
  let norm = sqrt(a0 + a1);
  if (norm > params.eps) {
    let inverse = 1.0 / norm;
    let projection = (b0 + b1) * inverse * inverse * inverse;
    for (k = 0u; k < length; k++) {
      result[base + k] = gradient[base + k] * inverse - x[base + k] * projection;
    }
  } else {
    for (k = 0u; k < length; k++) {
      result[base + k] = gradient[base + k] / params.eps;
    }
  }
}
