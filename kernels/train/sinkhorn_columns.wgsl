// Sinkhorn-Knopp column step over q [rows, cols] (rows = samples, cols = prototypes): one
// invocation per column k divides the column by (its sum * cols). FIRST = 1: the column is first
// made from the logits, q[r, k] = exp((x[r, k] - max_r x[r, k]) * inverse_temperature); the
// per-column max cancels in the division (as does DINOv2's division by the total before it).
// Entry point `main`: include/flat_count_main.wgsl over the columns.

override WORKGROUP_SIZE: u32 = 64u;
override FIRST: u32 = 0u;

// #include "flat_count_main.wgsl"

struct Params {
  rows: u32,
  cols: u32,
  inverse_temperature: f32,
  unused: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

fn flat_count() -> u32 {
  return params.cols;
}

// Column k.
fn element(k: u32) {
  let cols = params.cols;
  var total = 0.0;
  if (FIRST == 1u) {
    var column_max = -3.0e38;
    for (var r = 0u; r < params.rows; r++) {
      column_max = max(column_max, x[r * cols + k]);
    }
    for (var r = 0u; r < params.rows; r++) {
      let value = exp((x[r * cols + k] - column_max) * params.inverse_temperature);
      q[r * cols + k] = value;
      total += value;
    }
  } else {
    for (var r = 0u; r < params.rows; r++) {
      total += q[r * cols + k];
    }
  }
  let factor = 1.0 / (total * f32(cols));
  for (var r = 0u; r < params.rows; r++) {
    q[r * cols + k] = q[r * cols + k] * factor;
  }
}
