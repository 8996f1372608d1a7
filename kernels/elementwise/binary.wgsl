// Binary elementwise ops with NumPy broadcasting: out = a (op) b.
// `same`: a, b and out have the same number of elements (no broadcasting), flat index.
// `same_vec4`: as `same`, VECTORS_PER_INVOCATION consecutive vec4s per invocation; the buffers
// must hold whole vec4s up to ceil(count / 4) (pooled buffers do); the elements past count in the
// last vec4 are left alone.
// `broadcast`: out index i is split into coordinates over `shape` (rank <= 8, innermost last) and
// each input is read at sum(coordinate * stride), stride 0 along broadcast axes.
// OP: 0 add, 1 sub, 2 mul, 3 div, 4 a * scalar (broadcast copy; bind a as b too).

override WORKGROUP_SIZE: u32 = 256u;
override OP: u32 = 0u;
override VECTORS_PER_INVOCATION: u32 = 4u;

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

@compute @workgroup_size(WORKGROUP_SIZE)
fn same(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (i < params.count) {
    out[i] = combine(a[i], b[i]);
  }
}

fn combine4(x: vec4f, y: vec4f) -> vec4f {
  return vec4f(combine(x.x, y.x), combine(x.y, y.y), combine(x.z, y.z), combine(x.w, y.w));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn same_vec4(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = (id.x + id.y * groups.x * WORKGROUP_SIZE) * VECTORS_PER_INVOCATION;
  let whole = params.count / 4u;
  for (var q = first; q < min(first + VECTORS_PER_INVOCATION, whole); q++) {
    out4[q] = combine4(a4[q], b4[q]);
  }
  let rest = params.count % 4u;
  if (rest != 0u && whole >= first && whole < first + VECTORS_PER_INVOCATION) {
    for (var c = 0u; c < rest; c++) {
      out4[whole][c] = combine(a4[whole][c], b4[whole][c]);
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn broadcast(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = id.x + id.y * groups.x * WORKGROUP_SIZE;
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
