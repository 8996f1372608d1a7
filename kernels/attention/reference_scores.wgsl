// Plain (unfused) attention reference, step 1: scores[y, i, j] = scale * sum_c q[y, i, c] k[y, j, c]
// for head y = b * heads + h, one invocation per score; scores are [B * H, N, N]. Element (b, h, row, c)
// of q and k is at offset + b * in_batch + h * in_head + row * in_row + c (separate [B, H, N, d]
// tensors, or the packed [B, N, 3, H, d] qkv bound twice with offsets 0 and D). One invocation
// per element (include/flat_main.wgsl).

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_main.wgsl"

struct Params {
  count: u32,
  n: u32, d: u32,
  scale: f32,
  heads: u32,
  q_offset: u32, k_offset: u32,
  in_batch: u32, in_head: u32, in_row: u32,
}

@group(0) @binding(0) var<storage, read> query: array<f32>;
@group(0) @binding(1) var<storage, read> key: array<f32>;
@group(0) @binding(2) var<storage, read_write> scores: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

fn element(e: u32) {
  let n = params.n;
  let d = params.d;
  let j = e % n;
  let row = e / n; // head * n + i
  let i = row % n;
  let head = row / n;
  let base = (head / params.heads) * params.in_batch + (head % params.heads) * params.in_head;
  let query_base = base + params.q_offset + i * params.in_row;
  let key_base = base + params.k_offset + j * params.in_row;
  var sum = 0.0;
  for (var c = 0u; c < d; c++) {
    sum += query[query_base + c] * key[key_base + c];
  }
  scores[e] = sum * params.scale;
}
