// The dk and dv outputs of the short-sequence backward_key_value kernels
// (attention/rows_backward_key_value, shared_rows_backward_key_value): bindings 6 and 7, held as
// vec4s, and `store_gradient`. With SEPARATE_VALUE_GRAD = 0 (packed qkv) dk and dv both go to
// grad_key (one [B, N, 3 D] gradient, at offsets k_offset and v_offset) and grad_value is a
// placeholder that is never written. Include after attention_vec_loads.wgsl (WHOLE_VECS, params).

override SEPARATE_VALUE_GRAD: u32 = 1u;

@group(0) @binding(6) var<storage, read_write> grad_key: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> grad_value: array<vec4f>;

// Writes `result` to columns 4 vec .. 4 vec + 3 of the row at element `base` of dk (`to_value`
// false) or dv, nothing past d: with WHOLE_VECS one aligned 16-byte store, else element by element.
fn store_gradient(to_value: bool, base: u32, vec: u32, result: vec4f) {
  let separate = to_value && SEPARATE_VALUE_GRAD != 0u;
  if (WHOLE_VECS) {
    if (4u * vec < params.d) {
      let at = base / 4u + vec;
      if (separate) {
        grad_value[at] = result;
      } else {
        grad_key[at] = result;
      }
    }
    return;
  }
  for (var i = 0u; i < 4u && 4u * vec + i < params.d; i++) {
    let at = base + 4u * vec + i;
    if (separate) {
      grad_value[at / 4u][at % 4u] = result[i];
    } else {
      grad_key[at / 4u][at % 4u] = result[i];
    }
  }
}

// Element offsets of key row `row` in k and v (the same in dk and dv).
struct KeyValueRows {
  key: u32,
  value: u32,
}

fn key_value_rows(bases: HeadBases, row: u32) -> KeyValueRows {
  return KeyValueRows(bases.keys + row * params.in_row, bases.values + row * params.in_row);
}

// k_j (times scale * log2 e, the scale of the base-2 scores) and v_j of the key row at `rows`.
fn load_key_value(
  k: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  v_row: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  rows: KeyValueRows,
) {
  for (var v = 0u; v < HEAD_VECS; v++) {
    (*k)[v] = load_key(rows.key, v) * params.scale_log2;
    (*v_row)[v] = load_value(rows.value, v);
  }
}

// Writes dk_j (the summed terms times scale) and dv_j of the key row at `rows`.
fn store_key_value_gradients(
  grad_k: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  grad_v: ptr<function, array<vec4f, MAX_HEAD_VECS>>,
  rows: KeyValueRows,
) {
  for (var v = 0u; v < HEAD_VECS; v++) {
    store_gradient(false, rows.key, v, (*grad_k)[v] * params.scale);
    store_gradient(true, rows.value, v, (*grad_v)[v]);
  }
}
