// Shared by the LayerNorm backward kernels (normalization/layer_norm_backward and
// layer_norm_backward_affine): their Params (layerNormBackward in src/ops/normalization/forward.ts
// fills the words its kernel reads, the others 0), the forward's input and saved row statistics
// and the upstream gradient at bindings 0-3, and `xhat(row, index)`, the normalised x at flat
// index `index` of row `row`: (x - mean) * rstd.

struct Params {
  rows: u32,
  length: u32,
  // layer_norm_backward: bit 0 weight present
  flags: u32,
  // layer_norm_backward_affine: rows per chunk
  chunk_rows: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> grad_out: array<f32>;
@group(0) @binding(2) var<storage, read> row_mean: array<f32>;
@group(0) @binding(3) var<storage, read> row_rstd: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

fn xhat(row: u32, index: u32) -> f32 {
  return (x[index] - row_mean[row]) * row_rstd[row];
}
