// LayerNorm over the last axis. `main`: one workgroup per row (long rows); `short_rows`: one
// invocation per row with plain loops and no barriers (short rows; flat launch over rows):
// y = (x - mean) * rstd * weight + bias with rstd = 1 / sqrt(biased variance + eps).
// Also writes each row's mean and rstd for the backward pass. flags: bit 0 weight, bit 1 bias
// (an absent weight or bias is bound to any buffer and never read).

override WORKGROUP_SIZE: u32 = 256u;

// #include "row_main.wgsl"
// #include "row_main_vec4.wgsl"
// #include "row_term_sum.wgsl"

struct Params {
  rows: u32,
  length: u32,
  eps: f32,
  flags: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> row_mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> row_rstd: array<f32>;
@group(1) @binding(0) var<uniform> params: Params;

// The terms of row_term_sum.wgsl: 0 x, 1 (x - mean)^2 with the mean as `shift`.
fn row_term(term: u32, index: u32, shift: f32) -> f32 {
  if (term == 0u) {
    return x[index];
  }
  let centered = x[index] - shift;
  return centered * centered;
}

// Writes y of row `row`, columns first, first + step, ..., given its mean and rstd.
fn write_row(row: u32, first: u32, step: u32, mean: f32, rstd: f32) {
  let base = row * params.length;
  let has_weight = (params.flags & 1u) != 0u;
  let has_bias = (params.flags & 2u) != 0u;
  for (var k = first; k < params.length; k += step) {
    var value = (x[base + k] - mean) * rstd;
    if (has_weight) {
      value *= weight[k];
    }
    if (has_bias) {
      value += bias[k];
    }
    y[base + k] = value;
  }
}

// One row (row_main.wgsl), shared by the workgroup or owned by one invocation.
fn long_row(lane: u32, row: u32) {
  let count = f32(params.length);
  let mean = workgroup_row_sum(lane, row, 0u, 0.0) / count;
  let rstd = inverseSqrt(workgroup_row_sum(lane, row, 1u, mean) / count + params.eps);
  write_row(row, lane, WORKGROUP_SIZE, mean, rstd);
  if (lane == 0u) {
    row_mean[row] = mean;
    row_rstd[row] = rstd;
  }
}

fn short_row(row: u32) {
  let count = f32(params.length);
  let mean = short_row_sum(row, 0u, 0.0) / count;
  let rstd = inverseSqrt(short_row_sum(row, 1u, mean) / count + params.eps);
  write_row(row, 0u, 1u, mean, rstd);
  row_mean[row] = mean;
  row_rstd[row] = rstd;
}

// `short_rows_vec4`: `short_rows` where the length is a multiple of 4, the row read and written as
// vec4s (a quarter of the memory operations; component c of the accumulators sums the columns
// k = c mod 4, as short_row_sum's four sums do, so the results are the same).
@group(0) @binding(0) var<storage, read> x4: array<vec4f>;
@group(0) @binding(1) var<storage, read> weight4: array<vec4f>;
@group(0) @binding(2) var<storage, read> bias4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> y4: array<vec4f>;

// `short_rows_vec4` keeps a row of ROW_VEC4S vec4s in registers (the launch sets it to length / 4
// where that is at most MAX_ROW_VEC4S, else 0): x is loaded once instead of once per pass (of
// three), with the same sums in the same order. The loops run to an override constant, so they
// can unroll and `values` stay in registers (an array indexed by a varying value goes to
// per-invocation scratch memory, slow on lavapipe); measured there at [4352, 64]: 0.65-0.8x the
// time a launch of the form below.
override ROW_VEC4S: u32 = 0u;
const MAX_ROW_VEC4S: u32 = 32u;

// The sum of a vec4 accumulator's four interleaved parts.
fn sum_of_parts(parts: vec4f) -> f32 {
  return (parts.x + parts.y) + (parts.z + parts.w);
}

// Row statistics and which of weight and bias apply.
struct RowScale {
  mean: f32,
  rstd: f32,
  has_weight: bool,
  has_bias: bool,
}

// Output vec4 k of a row: (x - mean) * rstd, times the weight and plus the bias where given.
fn normalized4(x: vec4f, k: u32, scale: RowScale) -> vec4f {
  var value = (x - scale.mean) * scale.rstd;
  if (scale.has_weight) {
    value *= weight4[k];
  }
  if (scale.has_bias) {
    value += bias4[k];
  }
  return value;
}

fn row_scale(mean: f32, rstd: f32) -> RowScale {
  return RowScale(mean, rstd, (params.flags & 1u) != 0u, (params.flags & 2u) != 0u);
}

fn short_row_in_registers(row: u32) {
  let base = row * ROW_VEC4S;
  let count = f32(params.length);
  var values: array<vec4f, MAX_ROW_VEC4S>;
  var total = vec4f(0.0);
  for (var k = 0u; k < ROW_VEC4S; k++) {
    values[k] = x4[base + k];
    total += values[k];
  }
  let mean = sum_of_parts(total) / count;
  var squares = vec4f(0.0);
  for (var k = 0u; k < ROW_VEC4S; k++) {
    let centered = values[k] - mean;
    squares += centered * centered;
  }
  let rstd = inverseSqrt(sum_of_parts(squares) / count + params.eps);
  let scale = row_scale(mean, rstd);
  for (var k = 0u; k < ROW_VEC4S; k++) {
    y4[base + k] = normalized4(values[k], k, scale);
  }
  row_mean[row] = mean;
  row_rstd[row] = rstd;
}

// One row of `short_rows_vec4` (include/row_main_vec4.wgsl).
fn short_row_vec4(row: u32) {
  if (ROW_VEC4S > 0u) {
    short_row_in_registers(row);
    return;
  }
  let length4 = params.length / 4u;
  let base = row * length4;
  let count = f32(params.length);
  var total = vec4f(0.0);
  for (var k = 0u; k < length4; k++) {
    total += x4[base + k];
  }
  let mean = sum_of_parts(total) / count;
  var squares = vec4f(0.0);
  for (var k = 0u; k < length4; k++) {
    let centered = x4[base + k] - mean;
    squares += centered * centered;
  }
  let rstd = inverseSqrt(sum_of_parts(squares) / count + params.eps);
  let scale = row_scale(mean, rstd);
  for (var k = 0u; k < length4; k++) {
    y4[base + k] = normalized4(x4[base + k], k, scale);
  }
  row_mean[row] = mean;
  row_rstd[row] = rstd;
}
