// The output of the fused attention forward kernels stored as f32 (the f16 form,
// attention_output_f16.wgsl, is swapped in by a kernel's `#form f16` line): binding 3, written by
// `store_output`. Include after attention_vec_loads.wgsl (WHOLE_VECS, params).

@group(0) @binding(3) var<storage, read_write> output: array<vec4f>;

// Writes `result` to columns 4 vec .. 4 vec + 3 of the output row at element `base`, nothing past
// d: with WHOLE_VECS one aligned 16-byte store, else element by element.
fn store_output(base: u32, vec: u32, result: vec4f) {
  if (WHOLE_VECS) {
    if (4u * vec < params.d) {
      output[base / 4u + vec] = result;
    }
    return;
  }
  for (var i = 0u; i < 4u && 4u * vec + i < params.d; i++) {
    let at = base + 4u * vec + i;
    output[at / 4u][at % 4u] = result[i];
  }
}
