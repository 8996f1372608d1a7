// Second pass of gradient-norm clipping, one workgroup: per-tensor L2 norms from the partial sums
// of squares (`stride` slots per tensor, unused slots zero), the total norm, and clip factors
//   factor = min(1, max_norm / (norm + 1e-6))   (PyTorch's clip_grad_norm_, DINO's clip_gradients)
// factors[t] for tensor t alone, factors[tensors] for the global norm. With `guarded` set, a
// global norm that is not finite (an inf or NaN among the gradients) raises skip_flag[0]: the
// step guard's flag (src/optim/step_guard.ts), which the guarded updates read to skip the step.

override WORKGROUP_SIZE: u32 = 256u;

// #include "workgroup_sum.wgsl"

struct Params {
  tensors: u32,
  stride: u32,
  max_norm: f32,
  guarded: u32,
}

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> norms: array<f32>;
@group(0) @binding(2) var<storage, read_write> total: array<f32>;
@group(0) @binding(3) var<storage, read_write> factors: array<f32>;
@group(0) @binding(4) var<storage, read_write> skip_flag: array<u32>;
@group(1) @binding(0) var<uniform> params: Params;

// Whether `x` is neither infinite nor NaN, from its bits (an exponent of all ones is either).
fn is_finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

fn clip_factor(norm: f32) -> f32 {
  return min(1.0, params.max_norm / (norm + 1e-6));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_index) local: u32) {
  var sum = 0.0;
  for (var t = local; t < params.tensors; t += WORKGROUP_SIZE) {
    var squares = 0.0;
    for (var k = 0u; k < params.stride; k++) {
      squares += partials[t * params.stride + k];
    }
    let norm = sqrt(squares);
    norms[t] = norm;
    factors[t] = clip_factor(norm);
    sum += squares;
  }
  let norm = sqrt(workgroup_sum(local, sum));
  if (local == 0u) {
    total[0] = norm;
    factors[params.tensors] = clip_factor(norm);
    if (params.guarded != 0u && !is_finite(norm)) {
      skip_flag[0] = 1u;
    }
  }
}
