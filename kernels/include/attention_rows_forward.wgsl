// What the short-sequence forward kernels (attention/rows_forward, shared_rows_forward) share: the
// output (include/attention_output.wgsl, binding 3) and log-sum-exp (binding 4) bindings, and
// writing a finished row. Include after attention_rows_common.wgsl.

// #include "attention_output.wgsl"

@group(0) @binding(4) var<storage, read_write> log_sum_exp: array<f32>;

// Writes output row `row` (the weighted values over the softmax's running sum) and, at `index`,
// the natural-log log-sum-exp of the row's scaled scores.
fn store_row(
  accumulator: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  bases: HeadBases,
  row: u32,
  index: u32,
  running_max: f32,
  running_sum: f32,
) {
  let inverse = 1.0 / running_sum;
  let output_row = bases.outputs + row * params.out_row;
  for (var v = 0u; v < HEAD_VECS; v++) {
    store_output(output_row, v, (*accumulator)[v] * inverse);
  }
  log_sum_exp[index] = (running_max + log2(running_sum)) * 0.6931471805599453;
}
