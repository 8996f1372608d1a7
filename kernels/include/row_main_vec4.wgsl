// The entry point `short_rows_vec4` of the row kernels whose rows may be read as vec4s (a row length
// that is a multiple of 4): an invocation per row, as row_main.wgsl's `short_rows`, calling the
// includer's `fn short_row_vec4(row: u32)`; rows from params.rows on are skipped. The includer
// declares `override WORKGROUP_SIZE: u32` and a Params with a `rows` field. Used by layer_norm and
// layer_norm_backward.
// #include "flat_index.wgsl"

@compute @workgroup_size(WORKGROUP_SIZE)
fn short_rows_vec4(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = flat_index(id, groups);
  if (row >= params.rows) {
    return;
  }
  short_row_vec4(row);
}
