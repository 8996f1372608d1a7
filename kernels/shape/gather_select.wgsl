// scatterRows and its base gradient, per element (r, c) of a [rows, columns] result given
// origin[r] = the index k whose row replaces row r, or -1:
//   mode 0: destination[r, c] = origin[r] >= 0 ? replacement[origin[r], c] : base[r, c]
//   mode 1: destination[r, c] = origin[r] >= 0 ? 0 : base[r, c]
// 32-bit elements of any dtype. One invocation per element (include/flat_main.wgsl).

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_main.wgsl"

struct Params {
  count: u32,
  columns: u32,
  mode: u32,
}

@group(0) @binding(0) var<storage, read_write> destination: array<u32>;
@group(0) @binding(1) var<storage, read> base: array<u32>;
@group(0) @binding(2) var<storage, read> replacement: array<u32>;
@group(0) @binding(3) var<storage, read> origin: array<i32>;
@group(1) @binding(0) var<uniform> params: Params;

fn element(i: u32) {
  var value = base[i];
  let r = i / params.columns;
  let k = origin[r];
  if (k >= 0) {
    let c = i - r * params.columns;
    value = select(replacement[u32(k) * params.columns + c], 0u, params.mode == 1u);
  }
  destination[i] = value;
}
