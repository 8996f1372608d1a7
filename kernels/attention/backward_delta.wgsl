// Attention backward, first step: delta[r] = sum over c of grad_output[r, c] * output[r, c], one
// invocation per row r = (b * heads + h) * n + i of the [B * H, N] result. Rows of grad_output and
// output are at b * out_batch + h * out_head + i * out_row (the layout of the attention output:
// [B, H, N, d], or heads merged [B, N, H * d]). Row r of a launch is at global id
// x + y * (number of x workgroups * WORKGROUP_SIZE).

override WORKGROUP_SIZE: u32 = 64u;

struct Params {
  rows: u32,
  d: u32, n: u32, heads: u32,
  out_batch: u32, out_head: u32, out_row: u32,
}

@group(0) @binding(0) var<storage, read> grad_output: array<f32>;
// #include "attention_saved_output.wgsl"
// f16 form (`_f16`): the output stored as f16 (include/attention_saved_output_f16.wgsl).
// #form f16: attention_saved_output.wgsl -> attention_saved_output_f16.wgsl
@group(0) @binding(2) var<storage, read_write> delta: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (row < params.rows) {
    let i = row % params.n;
    let head = row / params.n;
    let base = (head / params.heads) * params.out_batch + (head % params.heads) * params.out_head +
      i * params.out_row;
    var sum = 0.0;
    for (var c = 0u; c < params.d; c++) {
      sum += grad_output[base + c] * output_at(base + c);
    }
    delta[row] = sum;
  }
}
