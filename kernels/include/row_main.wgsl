// The entry points of the row kernels with a long-row and a short-row form (row_group.wgsl):
// `main` runs a workgroup per row and calls the includer's `fn long_row(lane: u32, row: u32)`
// (lane = local_invocation_index; called from uniform control flow, so it may contain barriers);
// `short_rows` runs an invocation per row and calls `fn short_row(row: u32)`. Both skip rows from
// params.rows on. The includer declares `override WORKGROUP_SIZE: u32` and a Params with a `rows`
// field. Used by softmax, softmax_backward, cross_entropy, cross_entropy_labels, layer_norm and
// layer_norm_backward.
// #include "row_group.wgsl"

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(at: RowGroup, @builtin(local_invocation_index) lane: u32) {
  let row = group_row(at);
  if (row >= params.rows) {
    return;
  }
  long_row(lane, row);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn short_rows(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = flat_index(id, groups);
  if (row >= params.rows) {
    return;
  }
  short_row(row);
}
