// Shared by the cross-entropy gradient kernels (softmax/cross_entropy_backward and
// softmax/cross_entropy_labels_backward), one invocation per element i of a [rows, length] input
// (flat_main.wgsl): their Params (count = rows * length; the row length), the gradient of the
// per-row losses grad_out [rows] at binding 0 (each kernel's own bindings follow from 1), and
// `row_of(i)`, the row of element i.

struct Params {
  count: u32,
  length: u32,
}

@group(0) @binding(0) var<storage, read> grad_out: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

fn row_of(i: u32) -> u32 {
  return i / params.length;
}
