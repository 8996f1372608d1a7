// Fused attention forward for short sequences ("rows" variant): out = softmax(q k^T * scale) v over
// the key axis, plus the natural-log log-sum-exp of each row's scaled scores, as
// attention_forward.wgsl writes them, but with one invocation per (batch * head, query row) and no
// workgroup memory or barriers: at small N (a few dozen tokens) the blocked kernels' per-workgroup
// staging and barriers cost more than the arithmetic. The invocation holds its query (times
// scale * log2 e) and output accumulator in HEAD_VECS vec4s (HEAD_VECS = ceil(d / 4), an override,
// so the column loops have constant bounds and unroll into registers) and streams the n keys and
// values once, CHUNK keys at a time: the chunk's scores go to a private array, then the running max
// and sum are rescaled once per chunk (online softmax, base-2 exponentials; one exp2 per key, since
// exp2 is costly on llvmpipe).
// Invocation r = x + y * (x workgroups * WORKGROUP_SIZE) computes row r % n of head r / n
// (head = batch * heads + h). Layouts (strides in params) as described in
// include/attention_params.wgsl; the log-sum-exp is [B * H, N].

// #include "attention_rows.wgsl"

// keys whose scores an invocation holds at a time (one softmax rescaling per chunk)
const CHUNK: u32 = 32u;

// Bindings 0-2 (q, k, v): include/attention_inputs.wgsl; 3 (the output) and 4 (the log-sum-exp):
// include/attention_rows_forward.wgsl; the params: include/attention_params.wgsl.
// #include "attention_rows_forward.wgsl"
// f16 form (`_f16`): q, k, v and the output stored as f16 (include/attention_*_f16.wgsl).
// #form f16: attention_inputs.wgsl -> attention_inputs_f16.wgsl, attention_output.wgsl -> attention_output_f16.wgsl

// The row of `task` (attention_rows.wgsl's `main`).
fn compute_row(task: RowTask) {
  let n = params.n;
  let bases = task.bases;
  let in_row = params.in_row;
  var q: array<vec4f, MAX_HEAD_VECS>;
  load_scaled_query(&q, bases, task.row);
  // the weighted values (function variables start at zero)
  var accumulator: array<vec4f, MAX_HEAD_VECS>;
  var running_max = NEGATIVE_LARGE;
  var running_sum = 0.0;
  var scores: array<f32, CHUNK>;
  for (var chunk = 0u; chunk < n; chunk += CHUNK) {
    let count = min(CHUNK, n - chunk);
    var chunk_max = running_max;
    for (var j = 0u; j < count; j++) {
      let key_row = bases.keys + (chunk + j) * in_row;
      var dot4 = vec4f(0.0);
      for (var v = 0u; v < HEAD_VECS; v++) {
        dot4 += q[v] * load_key(key_row, v);
      }
      let score = sum4(dot4);
      scores[j] = score;
      chunk_max = max(chunk_max, score);
    }
    let correction = exp2(running_max - chunk_max);
    running_max = chunk_max;
    running_sum *= correction;
    for (var v = 0u; v < HEAD_VECS; v++) {
      accumulator[v] *= correction;
    }
    for (var j = 0u; j < count; j++) {
      let p = exp2(scores[j] - chunk_max);
      running_sum += p;
      let value_row = bases.values + (chunk + j) * in_row;
      for (var v = 0u; v < HEAD_VECS; v++) {
        accumulator[v] += p * load_value(value_row, v);
      }
    }
  }
  store_row(&accumulator, bases, task.row, task.index, running_max, running_sum);
}
