// destination[k, c] = source[indices[k], c] over rows of `columns` 32-bit elements (any dtype);
// an index outside [0, rows) gives a row of zeros. One invocation per element
// (include/flat_main.wgsl).

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_main.wgsl"

struct Params {
  count: u32,
  columns: u32,
  rows: u32,
}

@group(0) @binding(0) var<storage, read_write> destination: array<u32>;
@group(0) @binding(1) var<storage, read> source: array<u32>;
@group(0) @binding(2) var<storage, read> indices: array<i32>;
@group(1) @binding(0) var<uniform> params: Params;

fn element(i: u32) {
  let k = i / params.columns;
  let c = i - k * params.columns;
  let row = indices[k];
  var value = 0u;
  if (row >= 0 && u32(row) < params.rows) {
    value = source[u32(row) * params.columns + c];
  }
  destination[i] = value;
}
