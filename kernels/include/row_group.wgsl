// The launch of the row kernels. Their long-row entry points run one workgroup per row, laid out by
// flatWorkgroups(rows, 1): the row is workgroup x + y * (number of x workgroups), `group_row(at)`
// of the entry point's parameter `at: RowGroup` (local_invocation_index stays a parameter of its
// own: it is not uniform, the row is). Their short-row entry points run one invocation per row, at
// flat_index (flat_index.wgsl). The includer declares `override WORKGROUP_SIZE: u32`.
// #include "flat_index.wgsl"

struct RowGroup {
  @builtin(workgroup_id) group: vec3u,
  @builtin(num_workgroups) groups: vec3u,
}

fn group_row(at: RowGroup) -> u32 {
  return at.group.x + at.group.y * at.groups.x;
}
