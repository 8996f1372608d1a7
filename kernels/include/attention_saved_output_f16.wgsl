// The saved attention output stored as f16 (the form of attention_saved_output.wgsl that
// attention/backward_delta's `#form f16` line swaps in): binding 1 as 32-bit words of two halves,
// widened to f32 by `output_at`.

@group(0) @binding(1) var<storage, read> output: array<u32>;

fn output_at(element: u32) -> f32 {
  return unpack2x16float(output[element / 2u])[element % 2u];
}
