// Fused attention forward, "tiled" variant: out = softmax(q k^T * scale) v over the key axis, and
// the natural-log log-sum-exp of each row's scaled scores ([B * H, N]), as attention/forward writes
// them. A workgroup of W = WORKGROUP_SIZE invocations covers query rows 2 W x .. of head y;
// invocation i owns rows i and i + W of the block (query vec4s times scale * log2 e and output
// accumulators in registers). Per tile of KEY_TILE keys (keys in tile_a, values in tile_b), 8 keys
// at a time: scores (2 x 8), online softmax per row (the rescaling folded into the mix), then
// out += p v. Includes: include/attention_tiled_queries.wgsl (the tiles, query rows and scores),
// include/attention_tiled.wgsl.

// #include "attention_tiled_queries.wgsl"

// Bindings 0-2 (q, k, v): include/attention_inputs.wgsl; 3 (the output, written by store_output):
// include/attention_output.wgsl.
// #include "attention_output.wgsl"
@group(0) @binding(4) var<storage, read_write> log_sum_exp: array<f32>;

// Writes row `row` (if below n): `o` / `sum` at the output and its log-sum-exp.
fn store_output_row(o: array<vec4f, MAX_HEAD_VECS>, row: u32, head: u32, base: u32, running_max: f32, sum: f32) {
  if (row < params.n) {
    let at = base + row * params.out_row;
    for (var v = 0u; v < HEAD_VECS; v++) {
      store_output(at, v, o[v] / sum);
    }
    log_sum_exp[head * params.n + row] = (running_max + log2(sum)) * 0.6931471805599453;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) local: u32) {
  let n = params.n;
  let head = group.y;
  let bases = head_bases(head);
  let low_row = group.x * 2u * WORKGROUP_SIZE + local;
  let high_row = low_row + WORKGROUP_SIZE;
  var q_low = scaled_query(bases, low_row);
  var q_high = scaled_query(bases, high_row);
  var o_low: array<vec4f, MAX_HEAD_VECS>;
  var o_high: array<vec4f, MAX_HEAD_VECS>;
  var max_low = NEGATIVE_LARGE;
  var max_high = NEGATIVE_LARGE;
  var sum_low = 0.0;
  var sum_high = 0.0;
  for (var tile = 0u; tile < n; tile += KEY_TILE) {
    workgroupBarrier(); // the previous tile is read
    fill_tiles(bases, tile, local);
    workgroupBarrier();
    let keys_here = min(KEY_TILE, n - tile);
    for (var chunk = 0u; chunk < keys_here; chunk += 8u) {
      let s = chunk_dots(0u, &q_low, &q_high, chunk);
      let low = vec4f(NEGATIVE_LARGE);
      let valid_a = inside(tile + chunk);
      let valid_b = inside(tile + chunk + 4u);
      let a_low = select(low, s.a_low, valid_a);
      let b_low = select(low, s.b_low, valid_b);
      let a_high = select(low, s.a_high, valid_a);
      let b_high = select(low, s.b_high, valid_b);
      let new_low = max(max_low, max(largest4(a_low), largest4(b_low)));
      let new_high = max(max_high, max(largest4(a_high), largest4(b_high)));
      let correction_low = exp2(max_low - new_low);
      let correction_high = exp2(max_high - new_high);
      max_low = new_low;
      max_high = new_high;
      let pa_low = exp2(a_low - new_low);
      let pb_low = exp2(b_low - new_low);
      let pa_high = exp2(a_high - new_high);
      let pb_high = exp2(b_high - new_high);
      let sums_low = pa_low + pb_low;
      let sums_high = pa_high + pb_high;
      sum_low = sum_low * correction_low + ((sums_low.x + sums_low.y) + (sums_low.z + sums_low.w));
      sum_high = sum_high * correction_high + ((sums_high.x + sums_high.y) + (sums_high.z + sums_high.w));
      for (var v = 0u; v < HEAD_VECS; v++) {
        let va = tile_matrix(1u, chunk, v, false);
        let vb = tile_matrix(1u, chunk, v, true);
        o_low[v] = o_low[v] * correction_low + va * pa_low + vb * pb_low;
        o_high[v] = o_high[v] * correction_high + va * pa_high + vb * pb_high;
      }
    }
  }
  store_output_row(o_low, low_row, head, bases.outputs, max_low, sum_low);
  store_output_row(o_high, high_row, head, bases.outputs, max_high, sum_high);
}
