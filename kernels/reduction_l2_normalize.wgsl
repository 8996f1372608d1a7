// L2 normalisation over the last axis, y = x / max(||x||_2, eps), one workgroup per row.
// `forward`: binds x, result = y. `backward`: binds x, result = grad_in, gradient = grad_out:
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

var<workgroup> partial_a: array<f32, WORKGROUP_SIZE>;
var<workgroup> partial_b: array<f32, WORKGROUP_SIZE>;

fn reduce_pair(lane: u32) {
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
    if (lane < stride) {
      partial_a[lane] += partial_a[lane + stride];
      partial_b[lane] += partial_b[lane + stride];
    }
    workgroupBarrier();
  }
}

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
  partial_a[lane] = squares;
  partial_b[lane] = 0.0;
  reduce_pair(lane);
  let inverse = 1.0 / max(sqrt(partial_a[0]), params.eps);
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
  partial_a[lane] = squares;
  partial_b[lane] = dot;
  reduce_pair(lane);
  let norm = sqrt(partial_a[0]);
  if (norm > params.eps) {
    let inverse = 1.0 / norm;
    let projection = partial_b[0] * inverse * inverse * inverse;
    for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
      result[base + k] = gradient[base + k] * inverse - x[base + k] * projection;
    }
  } else {
    for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
      result[base + k] = gradient[base + k] / params.eps;
    }
  }
}
