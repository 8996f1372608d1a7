// The column sums of the matmul gradient rule, over flat f32 arrays (entry point `column_sum`):
// sums[c] = sum over rows r of values[r * count + c]: the bias gradient, and the sum over batch
// entries of the gradient of an operand shared across the batch. Bindings: values (read), sums
// (written); the chunked launch and the sum are include/strided_sum.wgsl. (The GELU factor of the
// rule is elementwise/unary_backward's.)

override WORKGROUP_SIZE: u32 = 256u;

// #include "strided_sum.wgsl"

struct Params {
  count: u32,
  rows: u32,
}

@group(0) @binding(0) var<storage, read> values: array<f32>;
@group(0) @binding(1) var<storage, read_write> sums: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

// count = number of columns (or elements per batch entry), rows = number of rows (batch entries).
// Launch [x, chunks, z] (strided_sum.wgsl): column c = chunk_column; workgroup row y sums the rows
// [y * chunk_rows, (y + 1) * chunk_rows) with chunk_rows = ceil(rows / chunks) (chunk_range) and
// writes sums[y * count + c]. With one chunk that is the column sum itself; with more, the caller
// sums the [chunks, count] partials again (two passes: many short columns use every core).
@compute @workgroup_size(WORKGROUP_SIZE)
fn column_sum(
  @builtin(global_invocation_id) id: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(workgroup_id) group: vec3u,
) {
  let c = chunk_column(id, groups);
  if (c < params.count) {
    let range = chunk_range(params.rows, group, groups);
    sums[group.y * params.count + c] = strided_sum(c, params.count, range.x, range.y);
  }
}

// The values strided_sum.wgsl sums for column_sum.
fn strided_value(index: u32) -> f32 {
  return values[index];
}
