// Plain (unfused) attention reference, step 2: softmax in place over each row of length n of the
// scores, one invocation per row. Row r of a launch is at global id
// x + y * (number of x workgroups * WORKGROUP_SIZE).

override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  rows: u32,
  n: u32,
}

@group(0) @binding(0) var<storage, read_write> scores: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (row < params.rows) {
    let n = params.n;
    let base = row * n;
    var largest = scores[base];
    for (var j = 1u; j < n; j++) {
      largest = max(largest, scores[base + j]);
    }
    var sum = 0.0;
    for (var j = 0u; j < n; j++) {
      let p = exp(scores[base + j] - largest);
      scores[base + j] = p;
      sum += p;
    }
    let inverse = 1.0 / sum;
    for (var j = 0u; j < n; j++) {
      scores[base + j] *= inverse;
    }
  }
}
