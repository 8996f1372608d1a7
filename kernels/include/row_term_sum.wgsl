// The sum of a per-element term over row `row` (`params.length` elements from row * length), for
// the row kernels (row_group.wgsl; cross_entropy, softmax_backward, l2_normalize, layer_norm,
// train/sinkhorn_rows, train/sinkhorn_entropy): `workgroup_row_sum` when a workgroup shares the
// row (the long-row `main`-style entry points; call it from uniform control flow, it contains
// barriers) and `short_row_sum` when one invocation owns it (`short_rows`; four interleaved sums:
// shorter dependency chains, smaller rounding error). The includer declares
// `override WORKGROUP_SIZE: u32`, a Params with a `length` field, and
// `fn row_term(term: u32, index: u32, shift: f32) -> f32`: term number `term` (a kernel with
// several sums numbers them) of the element at `index`, given `shift` (a row statistic such as the
// mean, or unused).
// #include "row_group.wgsl"
// #include "workgroup_sum.wgsl"

fn workgroup_row_sum(lane: u32, row: u32, term: u32, shift: f32) -> f32 {
  let base = row * params.length;
  var total = 0.0;
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    total += row_term(term, base + k, shift);
  }
  return workgroup_sum(lane, total);
}

fn short_row_sum(row: u32, term: u32, shift: f32) -> f32 {
  let length = params.length;
  let base = row * length;
  var s0 = 0.0;
  var s1 = 0.0;
  var s2 = 0.0;
  var s3 = 0.0;
  var k = 0u;
  for (; k + 4u <= length; k += 4u) {
    s0 += row_term(term, base + k, shift);
    s1 += row_term(term, base + k + 1u, shift);
    s2 += row_term(term, base + k + 2u, shift);
    s3 += row_term(term, base + k + 3u, shift);
  }
  for (; k < length; k++) {
    s0 += row_term(term, base + k, shift);
  }
  return (s0 + s1) + (s2 + s3);
}
