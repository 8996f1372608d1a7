// Sums down strided columns, for reduction/sum's `simple` and `columns` (the latter also the
// matmul gradients' column sums, sumBlocks). `strided_sum(base, stride, first, last)`: the sum of
// the includer's `fn strided_value(index: u32) -> f32` at base + k * stride for k in [first,
// last), with two interleaved accumulators (shorter dependency chains, smaller rounding error).
// The chunked launch [x, chunks, z] of the column sums: `chunk_column` is column id.x + id.z *
// groups.x * WORKGROUP_SIZE and `chunk_range` the entries [y * chunk, (y + 1) * chunk) of
// workgroup row y, chunk = ceil(length / chunks), clipped to length. The includer declares
// `override WORKGROUP_SIZE: u32`.

fn strided_sum(base: u32, stride: u32, first: u32, last: u32) -> f32 {
  var t0 = 0.0;
  var t1 = 0.0;
  var k = first;
  for (; k + 2u <= last; k += 2u) {
    t0 += strided_value(base + k * stride);
    t1 += strided_value(base + (k + 1u) * stride);
  }
  if (k < last) {
    t0 += strided_value(base + k * stride);
  }
  return t0 + t1;
}

fn chunk_column(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.z * groups.x * WORKGROUP_SIZE;
}

// [first, last) of the chunk of workgroup row group.y, of `length` entries in groups.y chunks.
fn chunk_range(length: u32, group: vec3u, groups: vec3u) -> vec2u {
  let chunk = (length + groups.y - 1u) / groups.y;
  let first = group.y * chunk;
  return vec2u(first, min(length, first + chunk));
}
