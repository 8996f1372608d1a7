// Gradient of max over one axis: the input viewed as [outer, length, inner] gets grad_out at the
// index the forward chose and 0 elsewhere. One invocation per input element.

override WORKGROUP_SIZE: u32 = 256u;

// #include "axis_view.wgsl"
// #include "flat_index.wgsl"

// The params: include/axis_view.wgsl.
@group(0) @binding(0) var<storage, read> indices: array<i32>;
@group(0) @binding(1) var<storage, read> grad_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad_in: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let e = flat_index(id, groups);
  if (e >= axis_outputs() * params.length) {
    return;
  }
  let position = axis_position(e);
  var value = 0.0;
  if (u32(indices[position.x]) == position.y) {
    value = grad_out[position.x];
  }
  grad_in[e] = value;
}
