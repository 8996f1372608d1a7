// Shared by the fused attention kernels (attention_blocked.wgsl, attention_team.wgsl,
// attention_rows.wgsl): the bindings of q, k and v (attention_inputs.wgsl, or its f16 form) and
// their loads: columns 4 vec .. 4 vec + 3 of a row, zero past the head size d. Include after
// attention_params.wgsl (params).

// #include "attention_inputs.wgsl"

// whether d is a multiple of 4 (and so every offset and stride of the layout, see
// src/ops/attention/kernels.ts): a vec4 of a row is then one aligned load, either whole or past d
override WHOLE_VECS: bool = false;

// Columns 4 vec .. 4 vec + 3 of the row at element `base` of input `which` (0 q, 1 k, 2 v); zero
// past d. (A branch, not a select: measured 1.2x faster on llvmpipe, which then skips the load.)
fn load_input(which: u32, base: u32, vec: u32) -> vec4f {
  if (WHOLE_VECS) {
    if (4u * vec < params.d) {
      return input_vec4(which, base / 4u + vec);
    }
    return vec4f(0.0);
  }
  var result = vec4f(0.0);
  for (var i = 0u; i < 4u && 4u * vec + i < params.d; i++) {
    result[i] = input_element(which, base + 4u * vec + i);
  }
  return result;
}

fn load_query(base: u32, vec: u32) -> vec4f {
  return load_input(0u, base, vec);
}

fn load_key(base: u32, vec: u32) -> vec4f {
  return load_input(1u, base, vec);
}

fn load_value(base: u32, vec: u32) -> vec4f {
  return load_input(2u, base, vec);
}
