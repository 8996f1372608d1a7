// Sum over one axis, times `scale` (sum, mean): the input is viewed as [outer, length, inner]
// and output[o * inner + i] = scale * sum_k input[(o * length + k) * inner + i].
// `rows`: one workgroup per output element, a strided loop then a tree in workgroup memory
// (long axes, inner = 1). `simple`: one invocation per output element (short axes).
// `columns`: for inner > 1, a launch [x, chunks, z] where column c = id.x + id.z * groups.x *
// WORKGROUP_SIZE (c < outer * inner) and workgroup row y sums the chunk
// [y * chunk, (y + 1) * chunk) of the axis, chunk = ceil(length / chunks), into
// output[y * outer * inner + c] (times scale). Neighbouring invocations read neighbouring
// elements. With more than one chunk the caller sums the partials in a second launch.

override WORKGROUP_SIZE: u32 = 256u;

// #include "axis_view.wgsl"
// #include "row_group.wgsl"
// #include "workgroup_sum.wgsl"

// The params: include/axis_view.wgsl.
@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read_write> output: array<f32>;

// The sum of input[base + k * inner] over k in [first, last), with two interleaved accumulators
// (shorter dependency chains, smaller rounding error).
fn axis_sum(base: u32, first: u32, last: u32) -> f32 {
  var t0 = 0.0;
  var t1 = 0.0;
  var k = first;
  for (; k + 2u <= last; k += 2u) {
    t0 += input[base + k * params.inner];
    t1 += input[base + (k + 1u) * params.inner];
  }
  if (k < last) {
    t0 += input[base + k * params.inner];
  }
  return t0 + t1;
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
  let base = axis_start(row);
  output[row] = axis_sum(base, 0u, params.length) * params.scale;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn columns(
  @builtin(global_invocation_id) id: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(workgroup_id) group: vec3u,
) {
  let c = id.x + id.z * groups.x * WORKGROUP_SIZE;
  let outputs = axis_outputs();
  if (c >= outputs) {
    return;
  }
  let chunk = (params.length + groups.y - 1u) / groups.y;
  let first = group.y * chunk;
  let last = min(params.length, first + chunk);
  output[group.y * outputs + c] = axis_sum(axis_start(c), first, last) * params.scale;
}
