// Axis permutation of a row-major array of 32-bit elements (any dtype), rank up to 8:
// output element at coordinates (c0, ..., c{rank-1}) of the output shape reads the source at
// sum(c_d * source_strides[d]), where source_strides are the input strides in output axis order.
// Element i of a launch is at global id x + y * (number of x workgroups * WORKGROUP_SIZE).

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  count: u32,
  rank: u32,
  pad0: u32,
  pad1: u32,
  output_shape: array<vec4u, 2>,
  source_strides: array<vec4u, 2>,
}

@group(0) @binding(0) var<storage, read_write> destination: array<u32>;
@group(0) @binding(1) var<storage, read> source: array<u32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (i >= params.count) {
    return;
  }
  var rest = i;
  var offset = 0u;
  for (var d = i32(params.rank) - 1; d >= 0; d--) {
    let extent = params.output_shape[d / 4][d % 4];
    let coordinate = rest % extent;
    rest = rest / extent;
    offset += coordinate * params.source_strides[d / 4][d % 4];
  }
  destination[i] = source[offset];
}
