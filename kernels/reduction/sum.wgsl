// Sum over one axis, times `scale` (sum, mean): the input is viewed as [outer, length, inner]
// and output[o * inner + i] = scale * sum_k input[(o * length + k) * inner + i].
// `rows`: one workgroup per output element, a strided loop then a tree in workgroup memory
// (long axes, inner = 1). `simple`: one invocation per output element (short axes).
// `columns`: for inner > 1, a launch [x, chunks, z] where column c = id.x + id.z * groups.x *
// WORKGROUP_SIZE (c < outer * inner) and workgroup row y sums the chunk
// [y * chunk, (y + 1) * chunk) of the axis, chunk = ceil(length / chunks), into
// output[y * outer * inner + c] (times scale). Neighbouring invocations read neighbouring
// elements. With more than one chunk the caller sums the partials in a second launch.
// `columns_vec4`: `columns` where inner is a multiple of 4, an invocation per 4 neighbouring
// columns (c = 4 x its index) read and written as vec4s, summed in the same order.

override WORKGROUP_SIZE: u32 = 256u;

// #include "axis_view.wgsl"
// #include "row_group.wgsl"
// #include "strided_sum.wgsl"
// #include "workgroup_sum.wgsl"

// The params: include/axis_view.wgsl.
@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read_write> output: array<f32>;

// The values strided_sum.wgsl sums: the input.
fn strided_value(index: u32) -> f32 {
  return input[index];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn rows(at: RowGroup, @builtin(local_invocation_index) lane: u32) {
  let row = group_row(at);
  let outputs = axis_outputs();
  let base = axis_start(row);
  var total = 0.0;
  if (row < outputs) {
    for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
      total += input[base + k * params.inner];
    }
  }
  let row_total = workgroup_sum(lane, total);
  if (lane == 0u && row < outputs) {
    output[row] = row_total * params.scale;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn simple(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = flat_index(id, groups);
  if (row >= axis_outputs()) {
    return;
  }
  output[row] = strided_sum(axis_start(row), params.inner, 0u, params.length) * params.scale;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn columns(
  @builtin(global_invocation_id) id: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(workgroup_id) group: vec3u,
) {
  let c = chunk_column(id, groups);
  let outputs = axis_outputs();
  if (c >= outputs) {
    return;
  }
  let range = chunk_range(params.length, group, groups);
  let total = strided_sum(axis_start(c), params.inner, range.x, range.y);
  output[group.y * outputs + c] = total * params.scale;
}

@group(0) @binding(0) var<storage, read> input4: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> output4: array<vec4f>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn columns_vec4(
  @builtin(global_invocation_id) id: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(workgroup_id) group: vec3u,
) {
  let c = 4u * chunk_column(id, groups);
  let outputs = axis_outputs();
  if (c >= outputs) {
    return;
  }
  let range = chunk_range(params.length, group, groups);
  // strided_sum over vec4s: two interleaved accumulators, as for one column
  let base = axis_start(c) / 4u;
  let stride = params.inner / 4u;
  var t0 = vec4f(0.0);
  var t1 = vec4f(0.0);
  var k = range.x;
  for (; k + 2u <= range.y; k += 2u) {
    t0 += input4[base + k * stride];
    t1 += input4[base + (k + 1u) * stride];
  }
  if (k < range.y) {
    t0 += input4[base + k * stride];
  }
  output4[(group.y * outputs + c) / 4u] = (t0 + t1) * params.scale;
}
