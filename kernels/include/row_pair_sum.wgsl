// The sums of two per-element terms over row `row` (`params.length` elements from row * length),
// for the row kernels (row_group.wgsl): `workgroup_row_sum_pair` when a workgroup shares the row
// (call it from uniform control flow, it contains barriers) and `short_row_sum_pair` when one
// invocation owns it (two interleaved accumulators per sum). The includer declares
// `override WORKGROUP_SIZE: u32`, a Params with a `length` field, and
// `fn row_pair(index: u32, k: u32, shift: vec2f) -> vec2f`: both terms of the element at `index`
// (column `k`), given `shift` (row statistics, or unused).
// #include "row_group.wgsl"
// #include "workgroup_sum.wgsl"

fn workgroup_row_sum_pair(lane: u32, row: u32, shift: vec2f) -> vec2f {
  let base = row * params.length;
  var total = vec2f(0.0);
  for (var k = lane; k < params.length; k += WORKGROUP_SIZE) {
    total += row_pair(base + k, k, shift);
  }
  return workgroup_sum_pair(lane, total.x, total.y);
}

fn short_row_sum_pair(row: u32, shift: vec2f) -> vec2f {
  let length = params.length;
  let base = row * length;
  var s0 = vec2f(0.0);
  var s1 = vec2f(0.0);
  var k = 0u;
  for (; k + 2u <= length; k += 2u) {
    s0 += row_pair(base + k, k, shift);
    s1 += row_pair(base + k + 1u, k + 1u, shift);
  }
  if (k < length) {
    s0 += row_pair(base + k, k, shift);
  }
  return s0 + s1;
}
