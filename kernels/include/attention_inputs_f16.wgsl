// The inputs of the fused attention kernels stored as f16 (the form of attention_inputs.wgsl that a
// kernel's `#form f16` line swaps in): q, k and v at bindings 0, 1, 2 as pairs of 32-bit words
// (4 halves), widened to f32 as they are read (unpack2x16float: core WGSL, exact, no shader-f16),
// so every product and sum stays f32. Half the bytes of f32 per load; same functions:
// `input_vec4(which, index)` (elements 4 index .. 4 index + 3 of input `which`: 0 q, 1 k, 2 v) and
// `input_element(which, element)`.

@group(0) @binding(0) var<storage, read> query: array<vec2u>;
@group(0) @binding(1) var<storage, read> key: array<vec2u>;
@group(0) @binding(2) var<storage, read> value: array<vec2u>;

fn input_words(which: u32, index: u32) -> vec2u {
  switch (which) {
    case 0u: {
      return query[index];
    }
    case 1u: {
      return key[index];
    }
    default: {
      return value[index];
    }
  }
}

fn input_vec4(which: u32, index: u32) -> vec4f {
  let words = input_words(which, index);
  return vec4f(unpack2x16float(words.x), unpack2x16float(words.y));
}

fn input_element(which: u32, element: u32) -> f32 {
  return input_vec4(which, element / 4u)[element % 4u];
}
