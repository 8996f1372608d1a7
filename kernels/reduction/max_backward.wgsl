// Gradient of max over one axis: the input viewed as [outer, length, inner] gets grad_out at the
// index the forward chose and 0 elsewhere. One invocation per input element
// (include/flat_count_main.wgsl).

override WORKGROUP_SIZE: u32 = 256u;

// #include "axis_view.wgsl"
// #include "flat_count_main.wgsl"

// The params: include/axis_view.wgsl.
@group(0) @binding(0) var<storage, read> indices: array<i32>;
@group(0) @binding(1) var<storage, read> grad_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad_in: array<f32>;

fn flat_count() -> u32 {
  return axis_outputs() * params.length;
}

fn element(e: u32) {
  let position = axis_position(e);
  var value = 0.0;
  if (u32(indices[position.x]) == position.y) {
    value = grad_out[position.x];
  }
  grad_in[e] = value;
}
