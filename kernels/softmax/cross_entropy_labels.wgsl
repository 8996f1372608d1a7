// Cross-entropy with integer labels over rows of logits [rows, classes]. `main`: one workgroup per
// row (long rows); `short_rows`: one invocation per row with plain loops and no barriers (short
// rows; flat launch over rows).
// lse[r] = logsumexp(logits[r, :]), loss[r] = lse[r] - logits[r, labels[r]].
// A label outside [0, classes) gives NaN.

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  rows: u32,
  classes: u32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

// #include "row_softmax.wgsl"

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
  @builtin(workgroup_id) group: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) lane: u32,
) {
  let row = group.x + group.y * groups.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.classes;
  var state = running_softmax_start();
  for (var k = lane; k < params.classes; k += WORKGROUP_SIZE) {
    state = running_softmax_add(state, logits[base + k]);
  }
  let statistics = workgroup_softmax_merge(lane, state);
  if (lane == 0u) {
    write_row(row, base, statistics.maximum + log(statistics.sum));
  }
}

fn write_row(row: u32, base: u32, row_lse: f32) {
  lse[row] = row_lse;
  let label = labels[row];
  if (label >= 0 && u32(label) < params.classes) {
    loss[row] = row_lse - logits[base + u32(label)];
  } else {
    let nan_bits = 0x7fc00000u;
    loss[row] = bitcast<f32>(nan_bits);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn short_rows(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (row >= params.rows) {
    return;
  }
  let length = params.classes;
  let base = row * length;
  var m0 = LOWEST;
  var m1 = LOWEST;
  var m2 = LOWEST;
  var m3 = LOWEST;
  var k = 0u;
  for (; k + 4u <= length; k += 4u) {
    m0 = max(m0, logits[base + k]);
    m1 = max(m1, logits[base + k + 1u]);
    m2 = max(m2, logits[base + k + 2u]);
    m3 = max(m3, logits[base + k + 3u]);
  }
  for (; k < length; k++) {
    m0 = max(m0, logits[base + k]);
  }
  let row_max = max(max(m0, m1), max(m2, m3));
  // Four interleaved sums: shorter dependency chains and smaller rounding error.
  var s0 = 0.0;
  var s1 = 0.0;
  var s2 = 0.0;
  var s3 = 0.0;
  k = 0u;
  for (; k + 4u <= length; k += 4u) {
    s0 += exp(logits[base + k] - row_max);
    s1 += exp(logits[base + k + 1u] - row_max);
    s2 += exp(logits[base + k + 2u] - row_max);
    s3 += exp(logits[base + k + 3u] - row_max);
  }
  for (; k < length; k++) {
    s0 += exp(logits[base + k] - row_max);
  }
  write_row(row, base, row_max + log((s0 + s1) + (s2 + s3)));
}
