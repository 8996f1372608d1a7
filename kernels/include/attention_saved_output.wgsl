// The saved attention output as attention/backward_delta reads it, stored as f32 (the f16 form,
// attention_saved_output_f16.wgsl, is swapped in by its `#form f16` line): binding 1, element by
// element through `output_at`.

@group(0) @binding(1) var<storage, read> output: array<f32>;

fn output_at(element: u32) -> f32 {
  return output[element];
}
