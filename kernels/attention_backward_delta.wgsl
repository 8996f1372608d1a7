// Attention backward, first step: delta[r] = sum over c of grad_output[r, c] * output[r, c], one
// invocation per row of the [rows, d] matrices. Row r of a launch is at global id
// x + y * (number of x workgroups * WORKGROUP_SIZE).

override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  rows: u32,
  d: u32,
}

@group(0) @binding(0) var<storage, read> grad_output: array<f32>;
@group(0) @binding(1) var<storage, read> output: array<f32>;
@group(0) @binding(2) var<storage, read_write> delta: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (row < params.rows) {
    let base = row * params.d;
    var sum = 0.0;
    for (var c = 0u; c < params.d; c++) {
      sum += grad_output[base + c] * output[base + c];
    }
    delta[row] = sum;
  }
}
