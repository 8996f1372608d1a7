// Online softmax statistics of a row (running maximum and sum of exp(v - maximum)) and their merge
// over the invocations of a workgroup that share one row (the long-row kernels: one workgroup per
// row). Shared by softmax and cross_entropy_labels. The includer declares
// `override WORKGROUP_SIZE: u32` (a power of two, the workgroup size of the caller) and calls
// `workgroup_softmax_merge` from uniform control flow (it contains barriers).

// A finite stand-in for -infinity, so that merging two empty partials gives exp(0) * 0 = 0.
const LOWEST: f32 = -3.0e38;

struct RunningSoftmax {
  maximum: f32,
  // sum of exp(v - maximum) over the values seen
  sum: f32,
}

// No values seen yet.
fn running_softmax_start() -> RunningSoftmax {
  return RunningSoftmax(LOWEST, 0.0);
}

// `state` after one more value `v`.
fn running_softmax_add(state: RunningSoftmax, v: f32) -> RunningSoftmax {
  if (v > state.maximum) {
    return RunningSoftmax(v, state.sum * exp(state.maximum - v) + 1.0);
  }
  return RunningSoftmax(state.maximum, state.sum + exp(v - state.maximum));
}

var<workgroup> maxima: array<f32, WORKGROUP_SIZE>;
var<workgroup> sums: array<f32, WORKGROUP_SIZE>;

// The statistics of the whole row from each invocation's `state` (`lane` =
// local_invocation_index), merged as a tree.
fn workgroup_softmax_merge(lane: u32, state: RunningSoftmax) -> RunningSoftmax {
  maxima[lane] = state.maximum;
  sums[lane] = state.sum;
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
  return RunningSoftmax(maxima[0], sums[0]);
}
