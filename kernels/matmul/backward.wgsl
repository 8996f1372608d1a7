// Helpers of the matmul gradient rule, over flat f32 arrays.
// gelu_backward: gradPre[i] = gradOut[i] * gelu'(pre[i]), gelu'(x) = Phi(x) + x phi(x).
// column_sum: sums[c] = sum over rows r of values[r * count + c]: the bias gradient, and the sum
// over batch entries of the gradient of an operand shared across the batch.

override WORKGROUP_SIZE: u32 = 256u;

// #include "erf.wgsl"

struct Params {
  count: u32,
  rows: u32,
}

@group(0) @binding(0) var<storage, read> gradOut: array<f32>;
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read_write> gradPre: array<f32>;

@group(0) @binding(0) var<storage, read> values: array<f32>;
@group(0) @binding(1) var<storage, read_write> sums: array<f32>;

@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn gelu_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (i < params.count) {
    gradPre[i] = gradOut[i] * gelu_derivative(pre[i]);
  }
}

// count = number of columns (or elements per batch entry), rows = number of rows (batch entries).
// Launch [x, chunks, z]: column c = id.x + id.z * groups.x * WORKGROUP_SIZE; workgroup row y sums
// the rows [y * chunk_rows, (y + 1) * chunk_rows) with chunk_rows = ceil(rows / chunks) and
// writes sums[y * count + c]. With one chunk that is the column sum itself; with more, the caller
// sums the [chunks, count] partials again (two passes: many short columns use every core).
@compute @workgroup_size(WORKGROUP_SIZE)
fn column_sum(
  @builtin(global_invocation_id) id: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(workgroup_id) group: vec3u,
) {
  let c = id.x + id.z * groups.x * WORKGROUP_SIZE;
  if (c < params.count) {
    let chunk_rows = (params.rows + groups.y - 1u) / groups.y;
    let first = group.y * chunk_rows;
    let last = min(params.rows, first + chunk_rows);
    // Two interleaved accumulators: shorter dependency chains, smaller rounding error.
    var t0 = 0.0;
    var t1 = 0.0;
    var r = first;
    for (; r + 2u <= last; r += 2u) {
      t0 += values[r * params.count + c];
      t1 += values[(r + 1u) * params.count + c];
    }
    if (r < last) {
      t0 += values[r * params.count + c];
    }
    sums[group.y * params.count + c] = t0 + t1;
  }
}
