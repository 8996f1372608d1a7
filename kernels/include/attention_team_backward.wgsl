// Shared by the team backward kernels (attention/subgroup_backward_*, tiled_backward_*): the
// bindings the backward reads after q, k and v (dO, the saved log-sum-exp and delta, as the
// blocked backward binds them), the loads of dO, ds, and the stores of the subgroup kernels'
// gradient accumulators (through the includer's `write_gradient`). Include after
// attention_team.wgsl (or an include that includes it).

// #include "attention_backward_inputs.wgsl"

// ds = p (dp - delta) of 16 rows, with p = exp2(s - lse) (both in base 2), or zero where `valid`
// is false (a key or query past n).
fn score_grads(
  s: array<vec4f, ROW_QUADS>,
  dp: array<vec4f, ROW_QUADS>,
  lse: array<vec4f, ROW_QUADS>,
  deltas: array<vec4f, ROW_QUADS>,
  valid: bool,
) -> array<vec4f, ROW_QUADS> {
  var result: array<vec4f, ROW_QUADS>;
  for (var a = 0u; a < ROW_QUADS; a++) {
    result[a] = select(vec4f(0.0), exp2(s[a] - lse[a]) * (dp[a] - deltas[a]), valid);
  }
  return result;
}

// Writes rows first_row + r (r < 16, below n) of `acc` times `factor` at vec4 column `vec` of the
// tensor at `base` with row stride `stride` (through the includer's `write_gradient`).
fn store_gradient_rows(acc: array<vec4f, TEAM_ROWS>, part: u32, first_row: u32, base: u32, stride: u32, vec: u32, factor: f32) {
  for (var r = 0u; r < TEAM_ROWS; r++) {
    let row = first_row + r;
    if (row < params.n) {
      let result = acc[r] * factor;
      let at = base + row * stride + 4u * vec;
      for (var i = 0u; i < columns_in(vec); i++) {
        write_gradient(part, at + i, result[i]);
      }
    }
  }
}

// Writes the 16 rows of the accumulators acc0 .. acc3 (this lane's vec4 columns own + 8 c,
// c < COLUMN_VECS) of dq or dk (part 0, times scale) or dv (part 1) to the tensor at `base`.
fn store_gradient_columns(
  acc0: array<vec4f, TEAM_ROWS>,
  acc1: array<vec4f, TEAM_ROWS>,
  acc2: array<vec4f, TEAM_ROWS>,
  acc3: array<vec4f, TEAM_ROWS>,
  part: u32,
  team: Team,
  base: u32,
  own: u32,
) {
  let stride = params.in_row;
  let factor = select(1.0, params.scale, part == 0u);
  store_gradient_rows(acc0, part, team.first_row, base, stride, own, factor);
  if (COLUMN_VECS > 1u) {
    store_gradient_rows(acc1, part, team.first_row, base, stride, own + 8u, factor);
  }
  if (COLUMN_VECS > 2u) {
    store_gradient_rows(acc2, part, team.first_row, base, stride, own + 16u, factor);
  }
  if (COLUMN_VECS > 3u) {
    store_gradient_rows(acc3, part, team.first_row, base, stride, own + 24u, factor);
  }
}
