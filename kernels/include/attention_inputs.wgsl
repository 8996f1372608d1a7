// The inputs of the fused attention kernels stored as f32 (their f16 form, attention_inputs_f16.wgsl,
// is swapped in by a kernel's `#form f16` line): q, k and v at bindings 0, 1, 2 (a packed qkv is
// bound three times), read as vec4s by
//   `input_vec4(which, index)`: vec4 `index` (elements 4 index .. 4 index + 3) of input `which`
//     (0 q, 1 k, 2 v): one aligned 16-byte load, where a run of 4 scalar loads costs 4 times as
//     much on llvmpipe (each load of a lane-varying address is a loop over the lanes there);
//   `input_element(which, element)`: one element.
// The buffers hold whole vec4s (pooled buffers do: their sizes are multiples of 256 bytes).

@group(0) @binding(0) var<storage, read> query: array<vec4f>;
@group(0) @binding(1) var<storage, read> key: array<vec4f>;
@group(0) @binding(2) var<storage, read> value: array<vec4f>;

fn input_vec4(which: u32, index: u32) -> vec4f {
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

fn input_element(which: u32, element: u32) -> f32 {
  return input_vec4(which, element / 4u)[element % 4u];
}
