// The entry point `main` of a flat launch over flat_count() items: invocation i, at flat_index i
// (flat_index.wgsl), runs the includer's `fn element(i: u32)` when i < flat_count(). The includer
// declares `override WORKGROUP_SIZE: u32`, `fn flat_count() -> u32` (how many items: params.count
// in flat_main.wgsl; rows, columns or elements of a view in others) and `fn element(i: u32)`: what
// item i computes.
// #include "flat_index.wgsl"

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(id, groups);
  if (i < flat_count()) {
    element(i);
  }
}
