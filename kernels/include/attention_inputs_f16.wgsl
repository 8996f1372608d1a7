// The inputs of the fused attention kernels stored as f16 (the form of attention_inputs.wgsl that a
// kernel's `#form f16` line swaps in): q, k and v at bindings 0, 1, 2 as pairs of 32-bit words
// (4 halves), widened to f32 as they are read (unpack2x16float: core WGSL, exact, no shader-f16),
// so every product and sum stays f32; half the bytes of f32 per load. Read by `input_vec4` and
// `input_element` (attention_input_select.wgsl).

alias InputVec = vec2u;

@group(0) @binding(0) var<storage, read> query: array<InputVec>;
@group(0) @binding(1) var<storage, read> key: array<InputVec>;
@group(0) @binding(2) var<storage, read> value: array<InputVec>;

fn widen(stored: InputVec) -> vec4f {
  return vec4f(unpack2x16float(stored.x), unpack2x16float(stored.y));
}

// #include "attention_input_select.wgsl"
