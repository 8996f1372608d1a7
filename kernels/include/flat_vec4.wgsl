// The vec4 form of the flat kernels over params.count f32 elements, the entry point `main_vec4`
// (beside flat_main.wgsl's `main`): an invocation takes the VECTORS_PER_INVOCATION consecutive
// vec4s from flat_index * VECTORS_PER_INVOCATION. It passes each whole vec4 q (below count / 4) to
// the includer's `fn vec4_element(q: u32)` and each element c < count % 4 of the last, partial
// vec4 q to `fn vec4_part(q: u32, c: u32)`; the elements past count in that vec4 are left alone.
// The buffers must hold whole vec4s up to ceil(count / 4) (pooled buffers do). The includer
// declares `override WORKGROUP_SIZE: u32` and a Params with a `count` field. Used by
// elementwise/binary, tensor/accumulate and tensor/fill.
// #include "flat_index.wgsl"

override VECTORS_PER_INVOCATION: u32 = 4u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main_vec4(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = flat_index(id, groups) * VECTORS_PER_INVOCATION;
  let whole = params.count / 4u;
  for (var q = first; q < min(first + VECTORS_PER_INVOCATION, whole); q++) {
    vec4_element(q);
  }
  let rest = params.count % 4u;
  if (rest != 0u && whole >= first && whole < first + VECTORS_PER_INVOCATION) {
    for (var c = 0u; c < rest; c++) {
      vec4_part(whole, c);
    }
  }
}
