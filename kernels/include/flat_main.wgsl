// The entry point `main` of the flat kernels: one invocation per element i < params.count
// (flat_count_main.wgsl, at flat_index i). The includer declares `override WORKGROUP_SIZE: u32`, a
// Params with a `count` field and `fn element(i: u32)`: what invocation i computes.
// #include "flat_count_main.wgsl"

fn flat_count() -> u32 {
  return params.count;
}
