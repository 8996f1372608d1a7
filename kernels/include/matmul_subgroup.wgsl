// The subgroup matmul (matmul/subgroup.wgsl on f32 operands, matmul/subgroup_f16.wgsl on f16),
// no shared memory: every invocation computes 8 * ROW_BLOCKS rows x 2 vec4 of
// output columns, and the 8 invocations of an aligned group of lanes share their rows. Each lane
// loads the A values of one row of a block (4 k at a time) and the group passes them around with
// subgroupShuffle, so A is fetched once per 8 lanes instead of once per lane. On llvmpipe /
// lavapipe (one SIMD lane per invocation, subgroup size 8) each non-uniform load is a loop over
// the lanes, so fewer loads per multiply-add is what makes this fast: each lane's 8 vec4 of B per
// 4 depths serve all 8 * ROW_BLOCKS rows, which is why up to 8 blocks (64 rows) pay there. The
// blocks' accumulators are separate variables, written out: one array indexed by block ran 3x
// slower on lavapipe.
// Needs subgroups with a size that is a multiple of 8, K % 4 == 0 and N % 4 == 0. A workgroup of
// WG_X lanes is WG_X / COLUMN_LANES row groups of COLUMN_LANES lanes side by side in columns
// (COLUMN_LANES a multiple of 8 dividing WG_X), so every aligned group of 8 lanes works on the same
// rows, and a narrow output (N = 64: 8 lanes) need not leave most of a wide workgroup idle; rows
// and columns past the edges are clamped on load (all lanes stay active for the shuffles) and
// skipped on store. a is [batch?, M, K] or [batch?, K, M] (A_LAYOUT); b is [batch?, K, N] or
// [batch?, N, K] when TRANSPOSE_B, read as vec4. Batch strides in elements.
// out = act(op(a) @ op(b) + bias) + residual; flags: 1 bias, 2 gelu, 4 residual, 8 save pre.

override WG_X: u32 = 64u;
override COLUMN_LANES: u32 = 64u; // lanes across columns per row group; divides WG_X
override ROW_BLOCKS: u32 = 2u; // 2 to 8: rows per invocation = 8 * ROW_BLOCKS
// a's layout: 0 [batch?, M, K]; 1 [batch?, K, M]; 2 [batch?, K, M] with M % 4 == 0, where a
// group's 8 lanes load an 8-row x 4-k block as eight vec4 along M and shuffle it into rows.
override A_LAYOUT: u32 = 0u;
override TRANSPOSE_B: bool = false;

// #include "matmul_vec4.wgsl"

// Element `index` (in f32 units) of a.
fn loadA(index: u32) -> f32 {
  return a_at(index >> 2u)[index & 3u];
}

// This lane's share of the A block of rows `block0` .. `block0` + 7 at depths 4 kk .. 4 kk + 3:
// with layouts 0 and 1 the 4 depths of row block0 + (lane & 7), clamped to the last row; with
// layout 2 the vec4 of rows block0 + 4 (lane & 1) .. + 3 at depth 4 kk + (lane & 7) / 2.
fn blockOfA(base: u32, block0: u32, own: u32, kk: u32) -> vec4f {
  if (A_LAYOUT == 2u) {
    let m4 = params.m / 4u;
    let at = (base + (4u * kk + (own >> 1u)) * params.m) / 4u;
    return a_at(at + min(block0 / 4u + (own & 1u), m4 - 1u));
  }
  let row = min(block0 + own, params.m - 1u);
  if (A_LAYOUT == 1u) {
    let at = base + row + 4u * kk * params.m;
    return vec4f(loadA(at), loadA(at + params.m), loadA(at + 2u * params.m), loadA(at + 3u * params.m));
  }
  return a_at((base + row * params.k) / 4u + kk);
}

// Where this lane's blocks of A start: the batch's base, the first row, the lane's row within a
// block (`own`) and the first lane of its group of 8.
struct RowsOfA {
  base: u32,
  row0: u32,
  own: u32,
  first: u32,
}

// The rank-4 update of block b (8 rows) and two vec4 columns at depths 4 kk .. 4 kk + 3 from the
// lanes' shares of A (see blockOfA): row r's 4 depths are lane `first + r`'s vec4, or with layout
// 2 component r % 4 of lanes `first + 2 i + r / 4` for depth i. Nothing for a block past
// ROW_BLOCKS.
fn update(
  b: u32,
  s: ptr<function, array<vec4f, 8>>,
  t: ptr<function, array<vec4f, 8>>,
  rows: RowsOfA,
  kk: u32,
  p: array<vec4f, 4>,
  q: array<vec4f, 4>,
) {
  if (b >= ROW_BLOCKS) {
    return;
  }
  let av = blockOfA(rows.base, rows.row0 + 8u * b, rows.own, kk);
  let first = rows.first;
  if (A_LAYOUT == 2u) {
    for (var i = 0u; i < 4u; i++) {
      let lo = subgroupShuffle(av, first + 2u * i);
      let hi = subgroupShuffle(av, first + 2u * i + 1u);
      (*s)[0] = (*s)[0] + lo.x * p[i];
      (*t)[0] = (*t)[0] + lo.x * q[i];
      (*s)[1] = (*s)[1] + lo.y * p[i];
      (*t)[1] = (*t)[1] + lo.y * q[i];
      (*s)[2] = (*s)[2] + lo.z * p[i];
      (*t)[2] = (*t)[2] + lo.z * q[i];
      (*s)[3] = (*s)[3] + lo.w * p[i];
      (*t)[3] = (*t)[3] + lo.w * q[i];
      (*s)[4] = (*s)[4] + hi.x * p[i];
      (*t)[4] = (*t)[4] + hi.x * q[i];
      (*s)[5] = (*s)[5] + hi.y * p[i];
      (*t)[5] = (*t)[5] + hi.y * q[i];
      (*s)[6] = (*s)[6] + hi.z * p[i];
      (*t)[6] = (*t)[6] + hi.z * q[i];
      (*s)[7] = (*s)[7] + hi.w * p[i];
      (*t)[7] = (*t)[7] + hi.w * q[i];
    }
  } else {
    for (var r = 0u; r < 8u; r++) {
      let x = subgroupShuffle(av, first + r);
      (*s)[r] = (*s)[r] + x.x * p[0] + x.y * p[1] + x.z * p[2] + x.w * p[3];
      (*t)[r] = (*t)[r] + x.x * q[0] + x.y * q[1] + x.z * q[2] + x.w * q[3];
    }
  }
}

// Writes the 8 rows of one block at vec4 column `col4` with the epilogue (`store_with_bias`,
// the column's bias loaded once by the caller).
fn storeBlock(acc: array<vec4f, 8>, batch: u32, row0: u32, col4: u32, column_bias: vec4f) {
  let n4 = params.n / 4u;
  if (col4 >= n4) {
    return;
  }
  for (var r = 0u; r < 8u; r++) {
    let row = row0 + r;
    if (row < params.m) {
      store_with_bias((batch * params.m + row) * n4 + col4, acc[r], column_bias);
    }
  }
}

// Where this lane's outputs go: the batch, the first row, the first of its two vec4 columns, and
// the two columns' biases (`bias_of`, loaded once for all rows).
struct OutputColumns {
  batch: u32,
  row0: u32,
  col0: u32,
  bias0: vec4f,
  bias1: vec4f,
}

// Writes block b (columns col0 from s, col0 + 1 from t); nothing for a block past ROW_BLOCKS.
fn storeBlocks(b: u32, s: array<vec4f, 8>, t: array<vec4f, 8>, at: OutputColumns) {
  if (b < ROW_BLOCKS) {
    storeBlock(s, at.batch, at.row0 + 8u * b, at.col0, at.bias0);
    storeBlock(t, at.batch, at.row0 + 8u * b, at.col0 + 1u, at.bias1);
  }
}

@compute @workgroup_size(WG_X, 1, 1)
fn main(
  @builtin(local_invocation_id) local: vec3u,
  @builtin(workgroup_id) group: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let n4 = params.n / 4u;
  let k4 = params.k / 4u;
  let batch = group.z;
  let col0 = (group.x * COLUMN_LANES + local.x % COLUMN_LANES) * 2u;
  let c0 = min(col0, n4 - 1u);
  let c1 = min(col0 + 1u, n4 - 1u);
  let row0 = (group.y * (WG_X / COLUMN_LANES) + local.x / COLUMN_LANES) * 8u * ROW_BLOCKS;
  let rows = RowsOfA(batch * params.batchStrideA, row0, lane & 7u, lane & ~7u);
  let bBase4 = batch * params.batchStrideB / 4u;
  // accumulators of block b: s<b> (columns col0) and t<b> (col0 + 1), separate variables written
  // out so that each stays a variable of its own (see the top)
  var s0: array<vec4f, 8>;
  var t0: array<vec4f, 8>;
  var s1: array<vec4f, 8>;
  var t1: array<vec4f, 8>;
  var s2: array<vec4f, 8>;
  var t2: array<vec4f, 8>;
  var s3: array<vec4f, 8>;
  var t3: array<vec4f, 8>;
  var s4: array<vec4f, 8>;
  var t4: array<vec4f, 8>;
  var s5: array<vec4f, 8>;
  var t5: array<vec4f, 8>;
  var s6: array<vec4f, 8>;
  var t6: array<vec4f, 8>;
  var s7: array<vec4f, 8>;
  var t7: array<vec4f, 8>;
  let depths = depthRange(batch, k4);
  for (var kk = depths.x; kk < depths.y; kk++) {
    let p = rowsOfB(bBase4, c0, kk);
    let q = rowsOfB(bBase4, c1, kk);
    update(0u, &s0, &t0, rows, kk, p, q);
    update(1u, &s1, &t1, rows, kk, p, q);
    update(2u, &s2, &t2, rows, kk, p, q);
    update(3u, &s3, &t3, rows, kk, p, q);
    update(4u, &s4, &t4, rows, kk, p, q);
    update(5u, &s5, &t5, rows, kk, p, q);
    update(6u, &s6, &t6, rows, kk, p, q);
    update(7u, &s7, &t7, rows, kk, p, q);
  }
  let outputs = OutputColumns(batch, row0, col0, bias_of(c0), bias_of(c1));
  storeBlocks(0u, s0, t0, outputs);
  storeBlocks(1u, s1, t1, outputs);
  storeBlocks(2u, s2, t2, outputs);
  storeBlocks(3u, s3, t3, outputs);
  storeBlocks(4u, s4, t4, outputs);
  storeBlocks(5u, s5, t5, outputs);
  storeBlocks(6u, s6, t6, outputs);
  storeBlocks(7u, s7, t7, outputs);
}
