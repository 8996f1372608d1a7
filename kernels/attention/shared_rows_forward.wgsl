enable subgroups;
// Fused attention forward for short sequences, "shared_rows" variant: what attention/rows_forward
// computes (out = softmax(q k^T * scale) v and the natural-log log-sum-exp of each row's scaled
// scores, [B * H, N]), one invocation per query row, with the keys and values streamed in chunks
// of 8 rows that the 8 lanes of a group load once and share (include/attention_rows_shared.wgsl).
// Per chunk: the 8 scores (base 2, the query times scale * log2 e), one rescaling of the running
// maximum and sum (online softmax), then the 8 values weighted. The 8 steps of a chunk are
// written out (not a loop), so that each shuffle reads a constant lane offset.

// #include "attention_rows_shared.wgsl"

// Bindings 0-2 (q, k, v): include/attention_inputs.wgsl; 3 (the output) and 4 (the log-sum-exp):
// include/attention_rows_forward.wgsl; the params: include/attention_params.wgsl.
// #include "attention_rows_forward.wgsl"
// f16 form (`_f16`): q, k, v and the output stored as f16 (include/attention_*_f16.wgsl).
// #form f16: attention_inputs.wgsl -> attention_inputs_f16.wgsl, attention_output.wgsl -> attention_output_f16.wgsl

// The score of this lane's query with key chunk + j (held by lane first + j); NEGATIVE_LARGE past
// the n keys, so that it weighs nothing.
fn chunk_score(
  q: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  keys: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  task: SharedTask,
  chunk: u32,
  j: u32,
) -> f32 {
  let score = sum4(shared_dot4(q, keys, task.first + j));
  return select(NEGATIVE_LARGE, score, chunk + j < params.n);
}

// Adds key j's value (held by lane first + j) times exp2(score - maximum); returns that weight.
fn mix_value(
  accumulator: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  values: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  task: SharedTask,
  j: u32,
  score: f32,
  maximum: f32,
) -> f32 {
  let p = exp2(score - maximum);
  shared_add(accumulator, p, values, task.first + j);
  return p;
}

// The query row of `task` (attention_rows_shared.wgsl's `main`).
fn compute_row(task: SharedTask) {
  let bases = task.bases;
  var q: array<vec4f, MAX_HEAD_VECS>;
  load_scaled_query(&q, bases, task.row);
  // this lane's share of a chunk of 8 key rows: its k_j and v_j
  var keys: array<vec4f, MAX_HEAD_VECS>;
  var values: array<vec4f, MAX_HEAD_VECS>;
  // the weighted values (function variables start at zero)
  var accumulator: array<vec4f, MAX_HEAD_VECS>;
  var running_max = NEGATIVE_LARGE;
  var running_sum = 0.0;
  for (var chunk = 0u; chunk < params.n; chunk += 8u) {
    let streamed = streamed_row(task, chunk) * params.in_row;
    for (var v = 0u; v < HEAD_VECS; v++) {
      keys[v] = load_key(bases.keys + streamed, v);
      values[v] = load_value(bases.values + streamed, v);
    }
    let s0 = chunk_score(&q, &keys, task, chunk, 0u);
    let s1 = chunk_score(&q, &keys, task, chunk, 1u);
    let s2 = chunk_score(&q, &keys, task, chunk, 2u);
    let s3 = chunk_score(&q, &keys, task, chunk, 3u);
    let s4 = chunk_score(&q, &keys, task, chunk, 4u);
    let s5 = chunk_score(&q, &keys, task, chunk, 5u);
    let s6 = chunk_score(&q, &keys, task, chunk, 6u);
    let s7 = chunk_score(&q, &keys, task, chunk, 7u);
    let chunk_max = max(
      max(max(running_max, s0), max(s1, s2)),
      max(max(s3, s4), max(max(s5, s6), s7)),
    );
    let correction = exp2(running_max - chunk_max);
    running_max = chunk_max;
    for (var v = 0u; v < HEAD_VECS; v++) {
      accumulator[v] *= correction;
    }
    var sum = mix_value(&accumulator, &values, task, 0u, s0, chunk_max);
    sum += mix_value(&accumulator, &values, task, 1u, s1, chunk_max);
    sum += mix_value(&accumulator, &values, task, 2u, s2, chunk_max);
    sum += mix_value(&accumulator, &values, task, 3u, s3, chunk_max);
    sum += mix_value(&accumulator, &values, task, 4u, s4, chunk_max);
    sum += mix_value(&accumulator, &values, task, 5u, s5, chunk_max);
    sum += mix_value(&accumulator, &values, task, 6u, s6, chunk_max);
    sum += mix_value(&accumulator, &values, task, 7u, s7, chunk_max);
    running_sum = running_sum * correction + sum;
  }

  if (task.live) {
    store_row(&accumulator, bases, task.row, task.index, running_max, running_sum);
  }
}
