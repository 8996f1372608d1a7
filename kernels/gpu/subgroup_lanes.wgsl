enable subgroups;
// Checks the lane layout that kernels/matmul/subgroup.wgsl relies on: in a one-dimensional
// workgroup, the 8 lanes of every aligned group (subgroup_invocation_id 8 g .. 8 g + 7) must hold
// invocations of one aligned block of 8 local indices, and the subgroup size must be a multiple of
// 8. WGSL does not promise that order; drivers lay lanes out that way in practice. Every
// invocation that finds its group broken adds 1 to `broken[0]`; `broken[1]` gets the largest
// subgroup size seen.

override WG_X: u32 = 64u;
// Added to the local index before the comparison (modulo WG_X): 0 checks the device; 4 stands in
// for a device whose lanes are out of order, so that tests can see the check fail.
override INDEX_SHIFT: u32 = 0u;

@group(0) @binding(0) var<storage, read_write> broken: array<atomic<u32>, 2>;

@compute @workgroup_size(WG_X, 1, 1)
fn main(
  @builtin(local_invocation_index) raw_index: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) size: u32,
) {
  let index = (raw_index + INDEX_SHIFT) % WG_X;
  let first = subgroupShuffle(index, lane & ~7u);
  if (size % 8u != 0u || (index >> 3u) != (first >> 3u)) {
    atomicAdd(&broken[0], 1u);
  }
  atomicMax(&broken[1], size);
}
