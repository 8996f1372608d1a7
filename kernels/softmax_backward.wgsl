// Gradient of softmax (LOG = 0) or log-softmax (LOG = 1) of x * inverse_temperature, from the
// forward output y, one workgroup per row:
// softmax: grad_x = t * y * (g - sum(g * y)); log-softmax: grad_x = t * (g - exp(y) * sum(g)).

override WORKGROUP_SIZE: u32 = 256u;
override LOG: u32 = 0u;

struct Params {
  rows: u32,
  length: u32,
  inverse_temperature: f32,
  unused: u32,
}

@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> grad_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad_x: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

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
  let base = row * params.length;
  var total = 0.0;
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    if (LOG == 1u) {
      total += grad_out[base + k];
    } else {
      total += grad_out[base + k] * y[base + k];
    }
  }
  partial[lane] = total;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
    if (lane < stride) {
      partial[lane] += partial[lane + stride];
    }
    workgroupBarrier();
  }
  let row_total = partial[0];
  let t = params.inverse_temperature;
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    if (LOG == 1u) {
      grad_x[base + k] = t * (grad_out[base + k] - exp(y[base + k]) * row_total);
    } else {
      grad_x[base + k] = t * y[base + k] * (grad_out[base + k] - row_total);
    }
  }
}
