// Cross-entropy with integer labels, one workgroup per row of logits [rows, classes]:
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

const LOWEST: f32 = -3.0e38;

var<workgroup> maxima: array<f32, WORKGROUP_SIZE>;
var<workgroup> sums: array<f32, WORKGROUP_SIZE>;

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
  var running_max = LOWEST;
  var running_sum = 0.0;
  for (var k = lane; k < params.classes; k += WORKGROUP_SIZE) {
    let v = logits[base + k];
    if (v > running_max) {
      running_sum = running_sum * exp(running_max - v) + 1.0;
      running_max = v;
    } else {
      running_sum += exp(v - running_max);
    }
  }
  maxima[lane] = running_max;
  sums[lane] = running_sum;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
    if (lane < stride) {
      let m1 = maxima[lane];
      let m2 = maxima[lane + stride];
      let m = max(m1, m2);
      sums[lane] = sums[lane] * exp(m1 - m) + sums[lane + stride] * exp(m2 - m);
      maxima[lane] = m;
    }
    workgroupBarrier();
  }
  if (lane == 0u) {
    let row_lse = maxima[0] + log(sums[0]);
    lse[row] = row_lse;
    let label = labels[row];
    if (label >= 0 && u32(label) < params.classes) {
      loss[row] = row_lse - logits[base + u32(label)];
    } else {
      let nan_bits = 0x7fc00000u;
      loss[row] = bitcast<f32>(nan_bits);
    }
  }
}
