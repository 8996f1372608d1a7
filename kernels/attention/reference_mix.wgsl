// Plain (unfused) attention reference, step 3: out[h, i, c] = sum_j probabilities[h, i, j] v[h, j, c]
// for probabilities [heads, n, n] and values [heads, n, d], one invocation per output element
// (include/flat_main.wgsl).

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_main.wgsl"

struct Params {
  count: u32,
  n: u32,
  d: u32,
}

@group(0) @binding(0) var<storage, read> probabilities: array<f32>;
@group(0) @binding(1) var<storage, read> value: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

fn element(e: u32) {
  let n = params.n;
  let d = params.d;
  let c = e % d;
  let row = e / d; // head * n + i
  let head = row / n;
  let probability_base = row * n;
  let value_base = head * n * d + c;
  var sum = 0.0;
  for (var j = 0u; j < n; j++) {
    sum += probabilities[probability_base + j] * value[value_base + j * d];
  }
  output[e] = sum;
}
