// Rotary position embedding on a packed qkv [B, N, 3 D] (DINOv3's axial RoPE, rotate-half layout):
// the queries and keys of the tokens from `prefix` on are rotated, everything else is copied.
// For head h, pair j < half (half = head size / 2) of token t >= prefix, with p = t - prefix:
//   y[j]        = x[j] cos - x[j + half] sin
//   y[j + half] = x[j + half] cos + x[j] sin
// where cos = table[p, 0, j] and sin = sign * table[p, 1, j] (table [P, 2, half]). sign = -1
// rotates by the opposite angle: the gradient of the rotation.
// One invocation per pair (b, t, part, h, j).

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  pairs: u32, // B * N * 3 D / 2
  tokens: u32, // N
  prefix: u32, // tokens before the first rotated one (CLS and storage tokens)
  dim: u32, // D
  half: u32, // head size / 2
  sign: f32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let pair = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (pair >= params.pairs) {
    return;
  }
  let half = params.half;
  let j = pair % half;
  let head_pair = pair / half; // (b, t, part, h)
  let width = 3u * params.dim; // one token's row
  let row_heads = width / (2u * half); // 3 * heads
  let token_row = head_pair / row_heads; // b * N + t
  let head_in_row = head_pair % row_heads; // part * heads + h
  let first = token_row * width + head_in_row * 2u * half + j;
  let second = first + half;
  let x1 = qkv[first];
  let x2 = qkv[second];
  let t = token_row % params.tokens;
  let part = head_in_row * 2u * half / params.dim;
  if (t < params.prefix || part == 2u) {
    output[first] = x1;
    output[second] = x2;
    return;
  }
  let at = (t - params.prefix) * 2u * half + j;
  let c = table[at];
  let s = params.sign * table[at + half];
  output[first] = x1 * c - x2 * s;
  output[second] = x2 * c + x1 * s;
}
