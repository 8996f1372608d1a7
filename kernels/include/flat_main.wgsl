// The entry point `main` of the flat kernels: one invocation per element i < params.count, at
// flat_index i (flat_index.wgsl). The includer declares `override WORKGROUP_SIZE: u32`, a Params
// with a `count` field and `fn element(i: u32)`: what invocation i computes.
// #include "flat_index.wgsl"

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flat_index(id, groups);
  if (i < params.count) {
    element(i);
  }
}
