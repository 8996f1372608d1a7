// Shared by softmax/softmax and softmax/softmax_backward: their Params (the same 4 words from
// src/ops/softmax/forward.ts and backward.ts: rows, row length, 1 / temperature) and the params
// binding.

struct Params {
  rows: u32,
  length: u32,
  inverse_temperature: f32,
  unused: u32,
}

@group(1) @binding(0) var<uniform> params: Params;
