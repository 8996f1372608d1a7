// KoLeo terms (DINOv2's KoLeoLoss before the mean) over x [rows, dim]: one invocation per row i
// finds its nearest neighbour n(i) = argmax_{j != i} <x_i, x_j> (the first on ties), then
// d_i = || x_i - x_n(i) + pdist_eps || (torch's PairwiseDistance) and value_i = -log(d_i + log_eps).
// Entry point `main`: include/flat_count_main.wgsl over the rows.

override WORKGROUP_SIZE: u32 = 64u;

// #include "flat_count_main.wgsl"
// #include "koleo_params.wgsl"

// Binding 0 (x) and the params: include/koleo_params.wgsl.
@group(0) @binding(1) var<storage, read_write> values: array<f32>;
@group(0) @binding(2) var<storage, read_write> distances: array<f32>;
@group(0) @binding(3) var<storage, read_write> nearest: array<i32>;

fn flat_count() -> u32 {
  return params.rows;
}

// Row i.
fn element(i: u32) {
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
      dot += x_at(i, c) * x_at(j, c);
    }
    if (!found || dot > best) {
      best = dot;
      best_index = j;
      found = true;
    }
  }
  var squared = 0.0;
  for (var c = 0u; c < dim; c++) {
    let difference = x_at(i, c) - x_at(best_index, c) + params.pdist_eps;
    squared += difference * difference;
  }
  let distance = sqrt(squared);
  distances[i] = distance;
  nearest[i] = i32(best_index);
  values[i] = -log(distance + params.log_eps);
}
