// The Params of the row kernels that need no word past the shape of their input, [rows, length]
// (row_main.wgsl, row_term_sum.wgsl and row_softmax.wgsl read these two fields), and the params
// binding. Used by softmax/cross_entropy, softmax/cross_entropy_labels (length = classes) and
// train/sinkhorn_entropy (length = cols).

struct Params {
  rows: u32,
  length: u32,
}

@group(1) @binding(0) var<uniform> params: Params;
