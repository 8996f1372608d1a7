// Shared by reduction/sum, reduction/max and reduction/max_backward, which view their input as
// [outer, length, inner] and reduce over the middle axis: output element `row` = o * inner + i
// reads input[axis_start(row) + k * inner] for k < length. Their Params (the same 4 words: sum
// scales its result by `scale`; max and max_backward pass 0 there and leave it unused) and the
// params binding.

struct Params {
  outer: u32,
  length: u32,
  inner: u32,
  scale: f32,
}

@group(1) @binding(0) var<uniform> params: Params;

// The number of output elements, outer * inner.
fn axis_outputs() -> u32 {
  return params.outer * params.inner;
}

fn axis_start(row: u32) -> u32 {
  let inner = max(params.inner, 1u);
  return (row / inner) * params.length * params.inner + row % inner;
}

// Where input element `e` lies in the view: the output element it reduces into (x) and its
// position k along the axis (y).
fn axis_position(e: u32) -> vec2u {
  let i = e % params.inner;
  let k = (e / params.inner) % params.length;
  let o = e / (params.inner * params.length);
  return vec2u(o * params.inner + i, k);
}
