// Online softmax statistics of a row (running maximum and sum of exp(v - maximum)): their merge
// over the invocations of a workgroup that share one row, and the statistics of row `row`
// (`params.length` values from row * length), with a workgroup per row (`workgroup_row_softmax`,
// the long-row kernels) or an invocation per row (`short_row_softmax`; row_group.wgsl). Shared by
// softmax and cross_entropy_labels. The includer declares `override WORKGROUP_SIZE: u32` (a power of two,
// the workgroup size of the caller), a Params with a `length` field and
// `fn row_value(index: u32) -> f32` (the value at `index`), and calls `workgroup_softmax_merge`
// and `workgroup_row_softmax` from uniform control flow (they contain barriers).

// #include "row_group.wgsl"

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

// The statistics of row `row`, shared by the workgroup (`lane` = local_invocation_index).
fn workgroup_row_softmax(lane: u32, row: u32) -> RunningSoftmax {
  let base = row * params.length;
  var state = running_softmax_start();
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    state = running_softmax_add(state, row_value(base + k));
  }
  return workgroup_softmax_merge(lane, state);
}

// The statistics of row `row` for one invocation, with plain loops: four running maxima, then four
// interleaved sums of exp (shorter dependency chains, smaller rounding error).
fn short_row_softmax(row: u32) -> RunningSoftmax {
  let length = params.length;
  let base = row * length;
  var m0 = LOWEST;
  var m1 = LOWEST;
  var m2 = LOWEST;
  var m3 = LOWEST;
  var k = 0u;
  for (; k + 4u <= length; k += 4u) {
    m0 = max(m0, row_value(base + k));
    m1 = max(m1, row_value(base + k + 1u));
    m2 = max(m2, row_value(base + k + 2u));
    m3 = max(m3, row_value(base + k + 3u));
  }
  for (; k < length; k++) {
    m0 = max(m0, row_value(base + k));
  }
  let row_max = max(max(m0, m1), max(m2, m3));
  var s0 = 0.0;
  var s1 = 0.0;
  var s2 = 0.0;
  var s3 = 0.0;
  k = 0u;
  for (; k + 4u <= length; k += 4u) {
    s0 += exp(row_value(base + k) - row_max);
    s1 += exp(row_value(base + k + 1u) - row_max);
    s2 += exp(row_value(base + k + 2u) - row_max);
    s3 += exp(row_value(base + k + 3u) - row_max);
  }
  for (; k < length; k++) {
    s0 += exp(row_value(base + k) - row_max);
  }
  return RunningSoftmax(row_max, (s0 + s1) + (s2 + s3));
}
