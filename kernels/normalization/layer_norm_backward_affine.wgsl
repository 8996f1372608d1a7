// Partial gradients of LayerNorm's weight and bias without float atomics: launch
// [ceil(length / WORKGROUP_SIZE), chunks]; invocation (column c, chunk j) sums over the rows
// [j * chunk_rows, (j + 1) * chunk_rows) and writes partial_weight[j, c] = sum grad_out * xhat and
// partial_bias[j, c] = sum grad_out. The caller sums the partials over chunks.

override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  rows: u32,
  length: u32,
  chunk_rows: u32,
  unused: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> grad_out: array<f32>;
@group(0) @binding(2) var<storage, read> row_mean: array<f32>;
@group(0) @binding(3) var<storage, read> row_rstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial_weight: array<f32>;
@group(0) @binding(5) var<storage, read_write> partial_bias: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

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
    let g = grad_out[row * params.length + column];
    sum_weight += g * (x[row * params.length + column] - row_mean[row]) * row_rstd[row];
    sum_bias += g;
  }
  partial_weight[chunk * params.length + column] = sum_weight;
  partial_bias[chunk * params.length + column] = sum_bias;
}
