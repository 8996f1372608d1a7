// Shared by the fused attention kernels (attention_forward, attention_backward_query,
// attention_backward_key_value and their attention_rows_* variants): the uniform parameters, which
// src/ops/attention/forward.ts (`fusedParams`) writes, and the layout helpers. The includer declares
// `@group(1) @binding(0) var<uniform> params: Params;`.
// Layouts come as strides: element (b, h, row, c) of q, k, v (and of their gradients) is at
// offset + b * in_batch + h * in_head + row * in_row + c, with offset q_offset, k_offset or v_offset
// (separate [B, H, N, d] tensors, or the packed [B, N, 3, H, d] qkv bound three times with offsets
// 0, D, 2D), and of the output (and of its gradient dO) at b * out_batch + h * out_head +
// row * out_row + c. Log-sum-exp and delta are [B * H, N]; head = batch * heads + h.

struct Params {
  batch_heads: u32,
  n: u32,
  d: u32,
  heads: u32,
  scale: f32,
  // scale * log2(e): scores are kept in base 2 and exponentiated with exp2
  scale_log2: f32,
  q_offset: u32,
  k_offset: u32,
  v_offset: u32,
  in_batch: u32,
  in_head: u32,
  in_row: u32,
  out_batch: u32,
  out_head: u32,
  out_row: u32,
  padding: u32,
}

const LOG2_E: f32 = 1.4426950408889634;
const NEGATIVE_LARGE: f32 = -3.0e38;

// Offset of row 0, column 0 of head `head` in q, k, v and their gradients (before q/k/v_offset).
fn input_base(head: u32) -> u32 {
  return (head / params.heads) * params.in_batch + (head % params.heads) * params.in_head;
}

// Offset of row 0, column 0 of head `head` in the output and its gradient.
fn output_base(head: u32) -> u32 {
  return (head / params.heads) * params.out_batch + (head % params.heads) * params.out_head;
}
