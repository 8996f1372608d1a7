// Shared by the fused attention kernels (attention/forward, backward_query, backward_key_value and
// their rows_* variants): the uniform parameters, which src/ops/attention/forward.ts
// (`fusedParams`) writes, and the layout helpers (the bindings of q, k and v, 0, 1, 2:
// attention_inputs.wgsl).
// Layouts come as strides: element (b, h, row, c) of q, k, v (and of their gradients) is at
// offset + b * in_batch + h * in_head + row * in_row + c, with offset q_offset, k_offset or v_offset
// (separate [B, H, N, d] tensors, or the packed [B, N, 3, H, d] qkv bound three times with offsets
// 0, D, 2D), and of the output (and of its gradient dO) at b * out_batch + h * out_head +
// row * out_row + c. Log-sum-exp and delta are [B * H, N]; head = batch * heads + h.

struct Params {
  batch_heads: u32, n: u32, d: u32, heads: u32,
  scale: f32,
  // scale * log2(e): scores are kept in base 2 and exponentiated with exp2
  scale_log2: f32,
  q_offset: u32, k_offset: u32, v_offset: u32,
  in_batch: u32, in_head: u32, in_row: u32,
  out_batch: u32, out_head: u32, out_row: u32,
  padding: u32,
}

@group(1) @binding(0) var<uniform> params: Params;

const LOG2_E: f32 = 1.4426950408889634;
const NEGATIVE_LARGE: f32 = -3.0e38;

// Offsets of row 0, column 0 of head `head` in q, k and v (q/k/v_offset applied; their gradients
// alike) and in the output (and dO).
struct HeadBases {
  queries: u32,
  keys: u32,
  values: u32,
  outputs: u32,
}

fn head_bases(head: u32) -> HeadBases {
  let batch = head / params.heads;
  let h = head % params.heads;
  let in_base = batch * params.in_batch + h * params.in_head;
  let out_base = batch * params.out_batch + h * params.out_head;
  return HeadBases(
    in_base + params.q_offset,
    in_base + params.k_offset,
    in_base + params.v_offset,
    out_base,
  );
}
