// KoLeo terms (DINOv2's KoLeoLoss before the mean) over x [rows, dim]: one invocation per row i
// finds its nearest neighbour n(i) = argmax_{j != i} <x_i, x_j> (the first on ties), then
// d_i = || x_i - x_n(i) + pdist_eps || (torch's PairwiseDistance) and value_i = -log(d_i + log_eps).

override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  rows: u32,
  dim: u32,
  pdist_eps: f32,
  log_eps: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> values: array<f32>;
@group(0) @binding(2) var<storage, read_write> distances: array<f32>;
@group(0) @binding(3) var<storage, read_write> nearest: array<i32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (i >= params.rows) {
    return;
  }
  let dim = params.dim;
  var best = -3.0e38;
  var best_index = 0u;
  var found = false;
  for (var j = 0u; j < params.rows; j++) {
    if (j == i) {
      continue;
    }
    var dot = 0.0;
    for (var c = 0u; c < dim; c++) {
      dot += x[i * dim + c] * x[j * dim + c];
    }
    if (!found || dot > best) {
      best = dot;
      best_index = j;
      found = true;
    }
  }
  var squared = 0.0;
  for (var c = 0u; c < dim; c++) {
    let difference = x[i * dim + c] - x[best_index * dim + c] + params.pdist_eps;
    squared += difference * difference;
  }
  let distance = sqrt(squared);
  distances[i] = distance;
  nearest[i] = i32(best_index);
  values[i] = -log(distance + params.log_eps);
}
