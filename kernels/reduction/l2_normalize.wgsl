// L2 normalisation over the last axis, y = x / max(||x||_2, eps). `forward` and `backward`: one
// workgroup per row (long rows); `forward_short_rows` and `backward_short_rows`: one invocation per
// row with plain loops and no barriers (short rows; flat launch over rows).
// Forward: binds x, result = y. Backward: binds x, result = grad_in, gradient = grad_out:
// grad_in = g / n - x (x . g) / n^3 when n = ||x|| > eps, else g / eps.

override WORKGROUP_SIZE: u32 = 256u;

// #include "row_group.wgsl"
// #include "row_term_sum.wgsl"
// #include "row_pair_sum.wgsl"

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

// The forward's one term (row_term_sum.wgsl): x^2.
fn row_term(term: u32, index: u32, shift: f32) -> f32 {
  let v = x[index];
  return v * v;
}

// The backward's two terms (row_pair_sum.wgsl): x^2 and x * g.
fn row_pair(index: u32, k: u32, shift: vec2f) -> vec2f {
  let v = x[index];
  return vec2f(v * v, v * gradient[index]);
}

// Writes y of row `row`, columns first, first + step, ..., given its sum of squares.
fn write_forward(row: u32, first: u32, step: u32, squares: f32) {
  let base = row * params.length;
  let inverse = 1.0 / max(sqrt(squares), params.eps);
  for (var k = first; k < params.length; k += step) {
    result[base + k] = x[base + k] * inverse;
  }
}

// Writes grad_in of row `row`, columns first, first + step, ..., given its sums of x^2 and x * g.
fn write_backward(row: u32, first: u32, step: u32, sums: vec2f) {
  let base = row * params.length;
  let norm = sqrt(sums.x);
  if (norm > params.eps) {
    let inverse = 1.0 / norm;
    let projection = sums.y * inverse * inverse * inverse;
    for (var k = first; k < params.length; k += step) {
      result[base + k] = gradient[base + k] * inverse - x[base + k] * projection;
    }
  } else {
    for (var k = first; k < params.length; k += step) {
      result[base + k] = gradient[base + k] / params.eps;
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(at: RowGroup, @builtin(local_invocation_index) lane: u32) {
  let row = group_row(at);
  if (row >= params.rows) {
    return;
  }
  write_forward(row, lane, WORKGROUP_SIZE, workgroup_row_sum(lane, row, 0u, 0.0));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward(at: RowGroup, @builtin(local_invocation_index) lane: u32) {
  let row = group_row(at);
  if (row >= params.rows) {
    return;
  }
  write_backward(row, lane, WORKGROUP_SIZE, workgroup_row_sum_pair(lane, row, vec2f(0.0)));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward_short_rows(
  @builtin(global_invocation_id) id: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let row = flat_index(id, groups);
  if (row >= params.rows) {
    return;
  }
  write_forward(row, 0u, 1u, short_row_sum(row, 0u, 0.0));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_short_rows(
  @builtin(global_invocation_id) id: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let row = flat_index(id, groups);
  if (row >= params.rows) {
    return;
  }
  write_backward(row, 0u, 1u, short_row_sum_pair(row, vec2f(0.0)));
}
