// Maximum over one axis with the index of the first maximum: the input is viewed as
// [outer, length, inner]; output[o * inner + i] = max_k input[(o * length + k) * inner + i] and
// indices[o * inner + i] = the smallest such k. `rows`: one workgroup per output element;
// `simple`: one invocation per output element.

override WORKGROUP_SIZE: u32 = 256u;

// #include "axis_view.wgsl"
// #include "row_group.wgsl"

// The params: include/axis_view.wgsl.
@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read_write> output: array<f32>;
@group(0) @binding(2) var<storage, read_write> indices: array<i32>;

const LOWEST: f32 = -3.0e38;

var<workgroup> best_values: array<f32, WORKGROUP_SIZE>;
var<workgroup> best_indices: array<u32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn rows(at: RowGroup, @builtin(local_invocation_index) lane: u32) {
  let row = group_row(at);
  let outputs = axis_outputs();
  let base = axis_start(row);
  var best = LOWEST;
  var best_index = 0xffffffffu;
  if (row < outputs) {
    for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
      let v = input[base + k * params.inner];
      if (v > best || best_index == 0xffffffffu) {
        best = v;
        best_index = k;
      }
    }
  }
  best_values[lane] = best;
  best_indices[lane] = best_index;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
    if (lane < stride) {
      let other = best_values[lane + stride];
      let other_index = best_indices[lane + stride];
      let mine = best_values[lane];
      let mine_index = best_indices[lane];
      if (other_index != 0xffffffffu &&
          (mine_index == 0xffffffffu || other > mine || (other == mine && other_index < mine_index))) {
        best_values[lane] = other;
        best_indices[lane] = other_index;
      }
    }
    workgroupBarrier();
  }
  if (lane == 0u && row < outputs) {
    output[row] = best_values[0];
    indices[row] = i32(best_indices[0]);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn simple(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = flat_index(id, groups);
  if (row >= axis_outputs()) {
    return;
  }
  let base = axis_start(row);
  var best = input[base];
  var best_index = 0u;
  for (var k = 1u; k < params.length; k++) {
    let v = input[base + k * params.inner];
    if (v > best) {
      best = v;
      best_index = k;
    }
  }
  output[row] = best;
  indices[row] = i32(best_index);
}
