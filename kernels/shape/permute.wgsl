// Axis permutation of a row-major array of 32-bit elements (any dtype), rank up to 8:
// output element at coordinates (c0, ..., c{rank-1}) of the output shape reads the source at
// sum(c_d * source_strides[d]), where source_strides are the input strides in output axis order.
// `main`: one invocation per element (include/flat_main.wgsl).

override WORKGROUP_SIZE: u32 = 256u;

// #include "flat_main.wgsl"

struct Params {
  count: u32,
  rank: u32,
  pad0: u32,
  pad1: u32,
  output_shape: array<vec4u, 2>,
  source_strides: array<vec4u, 2>,
}

@group(0) @binding(0) var<storage, read_write> destination: array<u32>;
@group(0) @binding(1) var<storage, read> source: array<u32>;
@group(1) @binding(0) var<uniform> params: Params;

fn element(i: u32) {
  var rest = i;
  var offset = 0u;
  for (var d = i32(params.rank) - 1; d >= 0; d--) {
    let extent = params.output_shape[d / 4][d % 4];
    let coordinate = rest % extent;
    rest = rest / extent;
    offset += coordinate * params.source_strides[d / 4][d % 4];
  }
  destination[i] = source[offset];
}

// `rows`: the output seen as rows of L = output_shape[rank - 1] elements, split into parts of
// `chunk` (pad0) elements, `parts` (pad1) parts per row; launch one invocation per part. The
// coordinates are decoded once per part, then a plain loop copies with the source stride of the
// last output axis (1 when the last axis stays last: a contiguous run).
@compute @workgroup_size(WORKGROUP_SIZE)
fn rows(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let t = id.x + id.y * groups.x * WORKGROUP_SIZE;
  let chunk = params.pad0;
  let parts = params.pad1;
  let row = t / parts;
  let part = t - row * parts;
  let last_axis = params.rank - 1u;
  let length = params.output_shape[last_axis / 4u][last_axis % 4u];
  if (row * length >= params.count) {
    return;
  }
  var rest = row;
  var offset = 0u;
  for (var d = i32(last_axis) - 1; d >= 0; d--) {
    let extent = params.output_shape[d / 4][d % 4];
    let next = rest / extent;
    offset += (rest - next * extent) * params.source_strides[d / 4][d % 4];
    rest = next;
  }
  let stride = params.source_strides[last_axis / 4u][last_axis % 4u];
  let first = part * chunk;
  let last = min(length, first + chunk);
  let output_base = row * length;
  for (var k = first; k < last; k++) {
    destination[output_base + k] = source[offset + k * stride];
  }
}

// `transpose4`: the permutation that swaps the last two axes of [batch, rows, columns] (output
// [batch, columns, rows]; output_shape (batch, columns, rows) with rank 3, or (columns, rows) with
// rank 2), rows and columns multiples of 4. One invocation per 4 x 4 block: four vec4 loads (its
// source rows), four vec4 stores (its output rows), a transpose in registers between: a quarter of
// the memory operations of `rows`, no workgroup memory. Consecutive invocations take consecutive
// blocks along an output row.
@group(0) @binding(0) var<storage, read_write> destination4: array<vec4u>;
@group(0) @binding(1) var<storage, read> source4: array<vec4u>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn transpose4(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let t = id.x + id.y * groups.x * WORKGROUP_SIZE;
  let last_axis = params.rank - 1u;
  let rows4 = params.output_shape[last_axis / 4u][last_axis % 4u] / 4u;
  let columns4 = params.output_shape[(last_axis - 1u) / 4u][(last_axis - 1u) % 4u] / 4u;
  let blocks = rows4 * columns4;
  if (t >= params.count / 16u) {
    return;
  }
  let batch = t / blocks;
  let within = t - batch * blocks;
  let block_column = within / rows4; // which 4 output rows (source columns)
  let block_row = within - block_column * rows4; // which 4 output columns (source rows)
  let base = batch * blocks * 4u; // the matrix's first vec4
  let start = base + 4u * block_row * columns4 + block_column;
  let v0 = source4[start];
  let v1 = source4[start + columns4];
  let v2 = source4[start + 2u * columns4];
  let v3 = source4[start + 3u * columns4];
  let to = base + 4u * block_column * rows4 + block_row;
  destination4[to] = vec4u(v0.x, v1.x, v2.x, v3.x);
  destination4[to + rows4] = vec4u(v0.y, v1.y, v2.y, v3.y);
  destination4[to + 2u * rows4] = vec4u(v0.z, v1.z, v2.z, v3.z);
  destination4[to + 3u * rows4] = vec4u(v0.w, v1.w, v2.w, v3.w);
}
