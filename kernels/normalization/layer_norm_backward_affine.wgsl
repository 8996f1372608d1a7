// Partial gradients of LayerNorm's weight and bias without float atomics: launch
// [ceil(length / WORKGROUP_SIZE), chunks]; invocation (column c, chunk j) sums over the rows
// [j * chunk_rows, (j + 1) * chunk_rows) and writes partial_weight[j, c] = sum grad_out * xhat and
// partial_bias[j, c] = sum grad_out. The caller sums the partials over chunks. Bindings: x,
// grad_out, row_mean, row_rstd and the params (0-3, from include/layer_norm_backward_inputs.wgsl),
// then partial_weight (4) and partial_bias (5), written.
// `main_vec4`: the same where the length is a multiple of 4, an invocation per 4 neighbouring
// columns (launch [ceil(length / 4 / WORKGROUP_SIZE), chunks]) read and written as vec4s.

override WORKGROUP_SIZE: u32 = 64u;

// #include "layer_norm_backward_inputs.wgsl"

@group(0) @binding(4) var<storage, read_write> partial_weight: array<f32>;
@group(0) @binding(5) var<storage, read_write> partial_bias: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(workgroup_id) group: vec3u) {
  let column = id.x;
  if (column >= params.length) {
    return;
  }
  let chunk = group.y;
  let first = chunk * params.chunk_rows;
  let last = min(params.rows, first + params.chunk_rows);
  var sum_weight = 0.0;
  var sum_bias = 0.0;
  for (var row = first; row < last; row++) {
    let index = row * params.length + column;
    let g = grad_out[index];
    sum_weight += g * xhat(row, index);
    sum_bias += g;
  }
  partial_weight[chunk * params.length + column] = sum_weight;
  partial_bias[chunk * params.length + column] = sum_bias;
}

@group(0) @binding(0) var<storage, read> x4: array<vec4f>;
@group(0) @binding(1) var<storage, read> grad_out4: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> partial_weight4: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> partial_bias4: array<vec4f>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main_vec4(@builtin(global_invocation_id) id: vec3u, @builtin(workgroup_id) group: vec3u) {
  let column4 = id.x;
  let length4 = params.length / 4u;
  if (column4 >= length4) {
    return;
  }
  let chunk = group.y;
  let first = chunk * params.chunk_rows;
  let last = min(params.rows, first + params.chunk_rows);
  var sum_weight = vec4f(0.0);
  var sum_bias = vec4f(0.0);
  for (var row = first; row < last; row++) {
    let index = row * length4 + column4;
    let g = grad_out4[index];
    sum_weight += g * ((x4[index] - row_mean[row]) * row_rstd[row]);
    sum_bias += g;
  }
  partial_weight4[chunk * length4 + column4] = sum_weight;
  partial_bias4[chunk * length4 + column4] = sum_bias;
}
