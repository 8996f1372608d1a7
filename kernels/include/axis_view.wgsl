// Shared by reduction/sum and reduction/max, which view their input as [outer, length, inner] and
// reduce over the middle axis: output element `row` = o * inner + i reads
// input[axis_start(row) + k * inner] for k < length. The includer's Params has `length` and
// `inner`.

fn axis_start(row: u32) -> u32 {
  let inner = max(params.inner, 1u);
  return (row / inner) * params.length * params.inner + row % inner;
}
