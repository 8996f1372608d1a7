// Attention backward, gradients of the keys and values, "tiled" variant. With
// p = exp(scale q_i.k_j - lse_i) recomputed from the saved log-sum-exp: dv_j = sum_i p_ij dO_i and
// dk_j = scale * sum_i p_ij (dO_i.v_j - delta_i) q_i.
// A workgroup of W = WORKGROUP_SIZE invocations covers key rows W x .. of head y, one per
// invocation (k times scale * log2 e, v, dk and dv in registers). Per tile of KEY_TILE queries
// (queries in tile_a, dO rows in tile_b, their log-sum-exp and delta in tile_lse, tile_delta),
// 8 at a time: scores and dp = v.dO, p and ds = p (dp - delta), dv += p dO, dk += ds q. No
// atomics: each key row is written by the one invocation that owns it. Bindings as the blocked
// backward_key_value; with SEPARATE_VALUE_GRAD = 0 (packed qkv) dk and dv both go to grad_key.

override SEPARATE_VALUE_GRAD: u32 = 1u;

// #include "attention_tiled.wgsl"
// #include "attention_team_backward.wgsl"

@group(0) @binding(6) var<storage, read_write> grad_key: array<f32>;
@group(0) @binding(7) var<storage, read_write> grad_value: array<f32>;

var<workgroup> tile_lse: array<f32, KEY_TILE>;
var<workgroup> tile_delta: array<f32, KEY_TILE>;

// part 0: dk, part 1: dv (into grad_key too with the packed gradient)
fn write_gradient(part: u32, at: u32, value: f32) {
  if (part == 1u && SEPARATE_VALUE_GRAD != 0u) {
    grad_value[at] = value;
  } else {
    grad_key[at] = value;
  }
}

// Writes key row `row` (if below n) of dk (part 0) or dv (part 1) times `factor`.
fn store_key_row(acc: array<vec4f, MAX_HEAD_VECS>, part: u32, row: u32, base: u32, factor: f32) {
  if (row < params.n) {
    let at = base + row * params.in_row;
    for (var v = 0u; v < HEAD_VECS; v++) {
      let result = acc[v] * factor;
      for (var i = 0u; i < columns_in(v); i++) {
        write_gradient(part, at + 4u * v + i, result[i]);
      }
    }
  }
}

// What the tiles hold: the queries' rows of q (which 0) and dO (which 1).
fn tile_row(which: u32, bases: HeadBases, row: u32, v: u32) -> vec4f {
  if (which == 0u) {
    return load_query(bases.queries + row * params.in_row, v);
  }
  return load_grad_output(bases.outputs + row * params.out_row, v);
}

// The log-sum-exp (base 2) or delta of tile queries first .. first + 3.
fn tile_values(of_lse: bool, first: u32) -> vec4f {
  if (of_lse) {
    return vec4f(tile_lse[first], tile_lse[first + 1u], tile_lse[first + 2u], tile_lse[first + 3u]);
  }
  return vec4f(tile_delta[first], tile_delta[first + 1u], tile_delta[first + 2u], tile_delta[first + 3u]);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) local: u32) {
  let n = params.n;
  let head = group.y;
  let bases = head_bases(head);
  let key_row = group.x * WORKGROUP_SIZE + local;
  let row = clamp_row(key_row);
  var k: array<vec4f, MAX_HEAD_VECS>;
  var values: array<vec4f, MAX_HEAD_VECS>;
  var dk: array<vec4f, MAX_HEAD_VECS>;
  var dv: array<vec4f, MAX_HEAD_VECS>;
  for (var v = 0u; v < HEAD_VECS; v++) {
    k[v] = load_key(bases.keys + row * params.in_row, v) * params.scale_log2;
    values[v] = load_value(bases.values + row * params.in_row, v);
  }
  for (var tile = 0u; tile < n; tile += KEY_TILE) {
    workgroupBarrier(); // the previous tile is read
    fill_tiles(bases, tile, local);
    for (var index = local; index < KEY_TILE; index += WORKGROUP_SIZE) {
      let at = head * n + clamp_row(tile + index);
      tile_lse[index] = log_sum_exp[at] * LOG2_E;
      tile_delta[index] = delta[at];
    }
    workgroupBarrier();
    let queries_here = min(KEY_TILE, n - tile);
    for (var chunk = 0u; chunk < queries_here; chunk += 8u) {
      var sa = vec4f(0.0);
      var sb = vec4f(0.0);
      var dpa = vec4f(0.0);
      var dpb = vec4f(0.0);
      for (var v = 0u; v < HEAD_VECS; v++) {
        sa += k[v] * tile_matrix(0u, chunk, v, false);
        sb += k[v] * tile_matrix(0u, chunk, v, true);
        dpa += values[v] * tile_matrix(1u, chunk, v, false);
        dpb += values[v] * tile_matrix(1u, chunk, v, true);
      }
      let pa = select(vec4f(0.0), exp2(sa - tile_values(true, chunk)), inside(tile + chunk));
      let pb = select(vec4f(0.0), exp2(sb - tile_values(true, chunk + 4u)), inside(tile + chunk + 4u));
      let dsa = pa * (dpa - tile_values(false, chunk));
      let dsb = pb * (dpb - tile_values(false, chunk + 4u));
      for (var v = 0u; v < HEAD_VECS; v++) {
        dv[v] += tile_matrix(1u, chunk, v, false) * pa + tile_matrix(1u, chunk, v, true) * pb;
        dk[v] += tile_matrix(0u, chunk, v, false) * dsa + tile_matrix(0u, chunk, v, true) * dsb;
      }
    }
  }
  store_key_row(dk, 0u, key_row, bases.keys, params.scale);
  store_key_row(dv, 1u, key_row, bases.values, 1.0);
}
