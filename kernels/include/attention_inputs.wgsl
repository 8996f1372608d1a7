// The inputs of the fused attention kernels stored as f32 (their f16 form, attention_inputs_f16.wgsl,
// is swapped in by a kernel's `#form f16` line): q, k and v at bindings 0, 1, 2 (a packed qkv is
// bound three times) as vec4s, read by `input_vec4` and `input_element`
// (attention_input_select.wgsl): a vec4 is one aligned 16-byte load, where a run of 4 scalar loads
// costs 4 times as much on llvmpipe (each load of a lane-varying address is a loop over the lanes
// there). The buffers hold whole vec4s (pooled buffers do: their sizes are multiples of 256 bytes).

alias InputVec = vec4f;

@group(0) @binding(0) var<storage, read> query: array<InputVec>;
@group(0) @binding(1) var<storage, read> key: array<InputVec>;
@group(0) @binding(2) var<storage, read> value: array<InputVec>;

fn widen(stored: InputVec) -> vec4f {
  return stored;
}

// #include "attention_input_select.wgsl"
