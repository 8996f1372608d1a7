// Gradient of max over one axis: the input viewed as [outer, length, inner] gets grad_out at the
// index the forward chose and 0 elsewhere. One invocation per input element.

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  outer: u32,
  length: u32,
  inner: u32,
  unused: u32,
}

@group(0) @binding(0) var<storage, read> indices: array<i32>;
@group(0) @binding(1) var<storage, read> grad_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad_in: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let e = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (e >= params.outer * params.length * params.inner) {
    return;
  }
  let i = e % params.inner;
  let k = (e / params.inner) % params.length;
  let o = e / (params.inner * params.length);
  let row = o * params.inner + i;
  var value = 0.0;
  if (u32(indices[row]) == k) {
    value = grad_out[row];
  }
  grad_in[e] = value;
}
