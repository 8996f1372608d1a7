// Shared by the KoLeo kernels (koleo/forward, koleo/backward): their Params (koleoParams in
// src/ops/koleo/forward.ts), the input x [rows, dim] at binding 0, and `x_at(row, c)`, element
// (row, c) of x.

struct Params {
  rows: u32,
  dim: u32,
  pdist_eps: f32,
  log_eps: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

fn x_at(row: u32, c: u32) -> f32 {
  return x[row * params.dim + c];
}
