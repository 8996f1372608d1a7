// Binary elementwise ops with NumPy broadcasting: out = a (op) b.
// `main`: a, b and out have the same number of elements (no broadcasting), one element per
// invocation (include/flat_main.wgsl). `main_vec4`: as `main`, VECTORS_PER_INVOCATION consecutive
// vec4s per invocation (include/flat_vec4.wgsl; the buffers must hold whole vec4s up to
// ceil(count / 4)).
// `broadcast`: out index i is split into coordinates over `shape` (rank <= 8, innermost last) and
// each input is read at sum(coordinate * stride), stride 0 along broadcast axes.
// `broadcast_vec4`: as `broadcast`, one vec4 of out per invocation (the innermost extent a multiple
// of 4): an input with innermost stride 1 is read as a vec4, one with stride 0 as a splat element.
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

// Where output element i reads a (x) and b (y).
fn broadcast_indices(i: u32) -> vec2u {
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
  return vec2u(index_a, index_b);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn broadcast(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(id, groups);
  if (i >= params.count) {
    return;
  }
  let at = broadcast_indices(i);
  out[i] = combine(a[at.x], b[at.y]);
}

// The vec4 of an input at element `index` whose innermost stride is `stride` (1 or 0).
fn broadcast_load(index: u32, stride: u32, from_a: bool) -> vec4f {
  var value: vec4f;
  if (from_a) {
    value = select(vec4f(a4[index / 4u][index % 4u]), a4[index / 4u], stride == 1u);
  } else {
    value = select(vec4f(b4[index / 4u][index % 4u]), b4[index / 4u], stride == 1u);
  }
  return value;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn broadcast_vec4(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let q = flat_index(id, groups);
  if (q * 4u >= params.count) {
    return;
  }
  let at = broadcast_indices(q * 4u);
  let innermost = params.rank - 1u;
  let x = broadcast_load(at.x, params.a_strides[innermost / 4u][innermost % 4u], true);
  let y = broadcast_load(at.y, params.b_strides[innermost / 4u][innermost % 4u], false);
  out4[q] = vec4f(combine(x.x, y.x), combine(x.y, y.y), combine(x.z, y.z), combine(x.w, y.w));
}
