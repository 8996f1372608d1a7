// Binary elementwise ops with NumPy broadcasting: out = a (op) b.
// `main`: a, b and out have the same number of elements (no broadcasting), one element per
// invocation (include/flat_main.wgsl). `main_vec4`: as `main`, VECTORS_PER_INVOCATION consecutive
// vec4s per invocation (include/flat_vec4.wgsl; the buffers must hold whole vec4s up to
// ceil(count / 4)).
// `broadcast`: out index i is split into coordinates over `shape` (rank <= 8, innermost last) and
// each input is read at sum(coordinate * stride), stride 0 along broadcast axes.
// OP: 0 add, 1 sub, 2 mul, 3 div, 4 a * scalar (broadcast copy; bind a as b too).

override WORKGROUP_SIZE: u32 = 256u;
override OP: u32 = 0u;

// #include "flat_main.wgsl"
// #include "flat_vec4.wgsl"

struct Params {
  count: u32,
  rank: u32,
  scalar: f32,
  unused: u32,
  shape: array<vec4u, 2>,
  a_strides: array<vec4u, 2>,
  b_strides: array<vec4u, 2>,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(0) var<storage, read> a4: array<vec4f>;
@group(0) @binding(1) var<storage, read> b4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out4: array<vec4f>;
@group(1) @binding(0) var<uniform> params: Params;

fn combine(x: f32, y: f32) -> f32 {
  if (OP == 0u) {
    return x + y;
  }
  if (OP == 1u) {
    return x - y;
  }
  if (OP == 2u) {
    return x * y;
  }
  if (OP == 3u) {
    return x / y;
  }
  return x * params.scalar;
}

fn element(i: u32) {
  out[i] = combine(a[i], b[i]);
}

fn vec4_element(q: u32) {
  let x = a4[q];
  let y = b4[q];
  out4[q] = vec4f(combine(x.x, y.x), combine(x.y, y.y), combine(x.z, y.z), combine(x.w, y.w));
}

fn vec4_part(q: u32, c: u32) {
  out4[q][c] = combine(a4[q][c], b4[q][c]);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn broadcast(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(id, groups);
  if (i >= params.count) {
    return;
  }
  var rest = i;
  var index_a = 0u;
  var index_b = 0u;
  for (var k = i32(params.rank) - 1; k >= 0; k--) {
    let axis = u32(k);
    let extent = params.shape[axis / 4u][axis % 4u];
    let coordinate = rest % extent;
    rest = rest / extent;
    index_a += coordinate * params.a_strides[axis / 4u][axis % 4u];
    index_b += coordinate * params.b_strides[axis / 4u][axis % 4u];
  }
  out[i] = combine(a[index_a], b[index_b]);
}
