// The dq output of the short-sequence backward_query kernels (attention/rows_backward_query,
// shared_rows_backward_query): binding 6, held as vec4s, and `store_grad_query`. Include after
// attention_vec_loads.wgsl (WHOLE_VECS, params).

@group(0) @binding(6) var<storage, read_write> grad_query: array<vec4f>;

// Writes `result` to columns 4 vec .. 4 vec + 3 of dq's row at element `base`, nothing past d:
// with WHOLE_VECS one aligned 16-byte store, else element by element.
fn store_grad_query(base: u32, vec: u32, result: vec4f) {
  if (WHOLE_VECS) {
    if (4u * vec < params.d) {
      grad_query[base / 4u + vec] = result;
    }
    return;
  }
  for (var i = 0u; i < 4u && 4u * vec + i < params.d; i++) {
    let at = base + 4u * vec + i;
    grad_query[at / 4u][at % 4u] = result[i];
  }
}

// q_i of query row `row` times scale * log2 e (the scale of the base-2 scores), and its dO_i.
fn load_query_row(
  q: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  grad_out: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  bases: HeadBases,
  row: u32,
) {
  load_scaled_query(q, bases, row);
  let grad_row = bases.outputs + row * params.out_row;
  for (var v = 0u; v < HEAD_VECS; v++) {
    (*grad_out)[v] = load_grad_output(grad_row, v);
  }
}

// Writes dq_i (the summed terms times scale) of query row `row`.
fn store_query_gradient(accumulator: ptr<function, array<vec4f, MAX_HEAD_VECS>>, bases: HeadBases, row: u32) {
  let query_row = bases.queries + row * params.in_row;
  for (var v = 0u; v < HEAD_VECS; v++) {
    store_grad_query(query_row, v, (*accumulator)[v] * params.scale);
  }
}
