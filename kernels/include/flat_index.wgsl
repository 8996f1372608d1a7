// The index of an invocation in a flat launch laid out by flatWorkgroups (src/gpu/launch.ts):
// global id x + y * (number of x workgroups * WORKGROUP_SIZE), so that launches larger than 65535
// workgroups spill into y. The includer declares `override WORKGROUP_SIZE: u32`.

fn flat_index(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * WORKGROUP_SIZE;
}
