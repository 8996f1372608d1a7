// Helpers of the matmul gradient rule, over flat f32 arrays.
// gelu_backward: gradPre[i] = gradOut[i] * gelu'(pre[i]), gelu'(x) = Phi(x) + x phi(x).
// column_sum: sums[c] = sum over rows r of values[r * count + c]: the bias gradient, and the sum
// over batch entries of the gradient of an operand shared across the batch.

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  count: u32,
  rows: u32,
}

@group(0) @binding(0) var<storage, read> gradOut: array<f32>;
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read_write> gradPre: array<f32>;

@group(0) @binding(0) var<storage, read> values: array<f32>;
@group(0) @binding(1) var<storage, read_write> sums: array<f32>;

@group(1) @binding(0) var<uniform> params: Params;

// erf by Abramowitz-Stegun 7.1.26 (absolute error <= 1.5e-7).
fn erf_approx(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(x) * (1.0 - poly * exp(-z * z));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn gelu_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (i < params.count) {
    let x = pre[i];
    let cdf = 0.5 * (1.0 + erf_approx(x * 0.70710678118654752));
    let pdf = 0.39894228040143268 * exp(-0.5 * x * x);
    gradPre[i] = gradOut[i] * (cdf + x * pdf);
  }
}

// count = number of columns (or elements per batch entry), rows = number of rows (batch entries).
@compute @workgroup_size(WORKGROUP_SIZE)
fn column_sum(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (c < params.count) {
    var total = 0.0;
    for (var r = 0u; r < params.rows; r++) {
      total = total + values[r * params.count + c];
    }
    sums[c] = total;
  }
}
