// Plain (unfused) attention reference, step 1: scores[h, i, j] = scale * sum_c q[h, i, c] k[h, j, c]
// for tensors [heads, n, d], one invocation per score. Element e of a launch is at global id
// x + y * (number of x workgroups * WORKGROUP_SIZE).

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  count: u32,
  n: u32,
  d: u32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read> query: array<f32>;
@group(0) @binding(1) var<storage, read> key: array<f32>;
@group(0) @binding(2) var<storage, read_write> scores: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let e = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (e < params.count) {
    let n = params.n;
    let d = params.d;
    let j = e % n;
    let row = e / n; // head * n + i
    let head = row / n;
    let query_base = row * d;
    let key_base = (head * n + j) * d;
    var sum = 0.0;
    for (var c = 0u; c < d; c++) {
      sum += query[query_base + c] * key[key_base + c];
    }
    scores[e] = sum * params.scale;
  }
}
