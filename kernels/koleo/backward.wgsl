// Gradient of the KoLeo terms with respect to x [rows, dim], the neighbours held fixed: with
// diff_i = x_i - x_n(i) + pdist_eps and coef_i = -grad_i / ((d_i + log_eps) * d_i),
// grad_x[r] = coef_r * diff_r - sum over i with n(i) = r of coef_i * diff_i.
// One invocation per element (r, c) (include/flat_count_main.wgsl).

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_count_main.wgsl"
// #include "koleo_params.wgsl"

// Binding 0 (x) and the params: include/koleo_params.wgsl.
@group(0) @binding(1) var<storage, read> grad_output: array<f32>;
@group(0) @binding(2) var<storage, read> distances: array<f32>;
@group(0) @binding(3) var<storage, read> nearest: array<i32>;
@group(0) @binding(4) var<storage, read_write> grad_x: array<f32>;

fn coefficient(i: u32) -> f32 {
  let d = distances[i];
  return -grad_output[i] / ((d + params.log_eps) * d);
}

fn flat_count() -> u32 {
  return params.rows * params.dim;
}

fn element(index: u32) {
  let dim = params.dim;
  let r = index / dim;
  let c = index % dim;
  let own = u32(nearest[r]);
  var total = coefficient(r) * (x_at(r, c) - x_at(own, c) + params.pdist_eps);
  for (var i = 0u; i < params.rows; i++) {
    if (u32(nearest[i]) == r) {
      total -= coefficient(i) * (x_at(i, c) - x_at(r, c) + params.pdist_eps);
    }
  }
  grad_x[index] = total;
}
