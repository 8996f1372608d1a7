// Shared by the attention kernels that read q, k and v as vec4s (attention_blocked.wgsl,
// attention_team.wgsl): columns 4 vec .. 4 vec + 3 of a row, zero past the head size d. Include
// after attention_params.wgsl (its bindings and params).

// whether d is a multiple of 4: a vec4 is then either whole or past d (zero)
override WHOLE_VECS: bool = false;

// Columns 4 vec .. 4 vec + 3 of the row at `base` of query; zero past d.
fn load_query(base: u32, vec: u32) -> vec4f {
  let c = base + 4u * vec;
  if (4u * vec + 3u < params.d) {
    return vec4f(query[c], query[c + 1u], query[c + 2u], query[c + 3u]);
  }
  if (WHOLE_VECS) {
    return vec4f(0.0);
  }
  var result = vec4f(0.0);
  for (var i = 0u; 4u * vec + i < params.d && i < 4u; i++) {
    result[i] = query[c + i];
  }
  return result;
}

// Columns 4 vec .. 4 vec + 3 of the row at `base` of key; zero past d.
fn load_key(base: u32, vec: u32) -> vec4f {
  let c = base + 4u * vec;
  if (4u * vec + 3u < params.d) {
    return vec4f(key[c], key[c + 1u], key[c + 2u], key[c + 3u]);
  }
  if (WHOLE_VECS) {
    return vec4f(0.0);
  }
  var result = vec4f(0.0);
  for (var i = 0u; 4u * vec + i < params.d && i < 4u; i++) {
    result[i] = key[c + i];
  }
  return result;
}

// Columns 4 vec .. 4 vec + 3 of the row at `base` of value; zero past d.
fn load_value(base: u32, vec: u32) -> vec4f {
  let c = base + 4u * vec;
  if (4u * vec + 3u < params.d) {
    return vec4f(value[c], value[c + 1u], value[c + 2u], value[c + 3u]);
  }
  if (WHOLE_VECS) {
    return vec4f(0.0);
  }
  var result = vec4f(0.0);
  for (var i = 0u; 4u * vec + i < params.d && i < 4u; i++) {
    result[i] = value[c + i];
  }
  return result;
}
