// The output of the fused attention forward kernels stored as f16 (the form of attention_output.wgsl
// that a kernel's `#form f16` line swaps in): binding 3 as pairs of 32-bit words, each vec4 rounded
// to 4 halves (pack2x16float) as it is stored. f16 forms run only where d is a multiple of 4
// (src/ops/attention/kernels.ts), so a vec4 of a row is either whole or past d.

@group(0) @binding(3) var<storage, read_write> output: array<vec2u>;

// Writes `result` as halves to columns 4 vec .. 4 vec + 3 of the output row at element `base`
// (nothing past d).
fn store_output(base: u32, vec: u32, result: vec4f) {
  if (4u * vec < params.d) {
    output[base / 4u + vec] = vec2u(pack2x16float(result.xy), pack2x16float(result.zw));
  }
}
