// The reads of attention_inputs.wgsl and its f16 form, which declare q, k, v (bindings 0-2) as
// arrays of `InputVec` (4 elements each) and `fn widen(stored: InputVec) -> vec4f`:
//   `input_vec4(which, index)`: vec4 `index` (elements 4 index .. 4 index + 3) of input `which`
//     (0 q, 1 k, 2 v), one aligned load;
//   `input_element(which, element)`: one element.

fn input_vec4(which: u32, index: u32) -> vec4f {
  switch (which) {
    case 0u: {
      return widen(query[index]);
    }
    case 1u: {
      return widen(key[index]);
    }
    default: {
      return widen(value[index]);
    }
  }
}

fn input_element(which: u32, element: u32) -> f32 {
  return input_vec4(which, element / 4u)[element % 4u];
}
