// Conversions between f32 and f16 (IEEE half precision) tensors, one 32-bit word of f16 (two
// values, the first in the low half) per invocation. Both buffers are bound as 32-bit words, so
// the kernels are core WGSL (pack2x16float / unpack2x16float) and need no shader-f16 feature.
// `to_f16`: f32 -> f16, rounded to a nearest f16 (WGSL leaves which of the two nearest to the
// adapter); magnitudes from 65520 on (those that round past the largest f16, 65504) become
// +-infinity and NaN stays NaN, where pack2x16float alone would leave them undefined. An odd last
// word's high half is 0.
// `to_f32`: f16 -> f32, exact.
// include/flat_index.wgsl lays out the launch.

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_index.wgsl"

struct Params {
  words: u32, // 32-bit words of the f16 tensor: ceil(values / 2)
  values: u32, // elements of both tensors
}

@group(0) @binding(0) var<storage, read> source: array<u32>;
@group(0) @binding(1) var<storage, read_write> destination: array<u32>;
@group(1) @binding(0) var<uniform> params: Params;

// The f16 bit pattern (in the low 16 bits) of `x`.
fn half_bits(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  let sign = (bits >> 16u) & 0x8000u;
  let magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) {
    return sign | 0x7e00u; // NaN
  }
  if (magnitude >= 0x477ff000u) {
    return sign | 0x7c00u; // |x| >= 65520 (infinity included): infinity
  }
  return pack2x16float(vec2f(x, 0.0)) & 0xffffu;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn to_f16(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let w = flat_index(id, groups);
  if (w >= params.words) {
    return;
  }
  let low = half_bits(bitcast<f32>(source[2u * w]));
  var high = 0u;
  if (2u * w + 1u < params.values) {
    high = half_bits(bitcast<f32>(source[2u * w + 1u]));
  }
  destination[w] = low | (high << 16u);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn to_f32(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let w = flat_index(id, groups);
  if (w >= params.words) {
    return;
  }
  let pair = unpack2x16float(source[w]);
  destination[2u * w] = bitcast<u32>(pair.x);
  if (2u * w + 1u < params.values) {
    destination[2u * w + 1u] = bitcast<u32>(pair.y);
  }
}
