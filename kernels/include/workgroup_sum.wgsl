// Sums over the invocations of one workgroup, as a tree in workgroup memory: a row shared by a
// workgroup (reduction/sum and, through row_term_sum.wgsl and row_pair_sum.wgsl, cross_entropy,
// softmax_backward, l2_normalize, layer_norm, layer_norm_backward, train/sinkhorn_rows,
// train/sinkhorn_entropy), or a workgroup's share of a longer sum (optim/clip_sum_squares,
// optim/clip_finalize). The includer declares `override WORKGROUP_SIZE: u32` (a power of two, the
// workgroup size of the caller) and calls these from uniform control flow (they contain barriers).
// Each ends with a barrier after reading its result, so a kernel may call them one after another.

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;
var<workgroup> partial_second: array<f32, WORKGROUP_SIZE>;

// The sum of `value` over the workgroup's invocations (`lane` = local_invocation_index), as a tree.
fn workgroup_sum(lane: u32, value: f32) -> f32 {
  partial[lane] = value;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
    if (lane < stride) {
      partial[lane] += partial[lane + stride];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

// The sums of `first` and of `second` over the workgroup's invocations, in one tree.
fn workgroup_sum_pair(lane: u32, first: f32, second: f32) -> vec2f {
  partial[lane] = first;
  partial_second[lane] = second;
  workgroupBarrier();
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
    if (lane < stride) {
      partial[lane] += partial[lane + stride];
      partial_second[lane] += partial_second[lane + stride];
    }
    workgroupBarrier();
  }
  let totals = vec2f(partial[0], partial_second[0]);
  workgroupBarrier();
  return totals;
}
