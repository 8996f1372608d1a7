/**
 * Launch-size helpers shared by every op.
 * @module
 */

/** Default invocations per workgroup of the flat (one element per invocation) kernels. */
export const FLAT_WORKGROUP_SIZE = 256;

/**
 * Loop iterations after which lavapipe (Mesa's Vulkan CPU driver) silently ends a shader
 * invocation, counted over all its loops together (every pass through a loop body, the last one
 * that exits included): a kernel whose invocation loops over a long axis must take a range of it
 * and be split on the host, or it returns wrong results there without an error.
 */
export const LAVAPIPE_LOOP_LIMIT = 65_535;

/**
 * Workgroup counts for `count` invocations of `workgroupSize`, spilling into y past 65535
 * workgroups. Kernels recover the flat index as `id.x + id.y * groups.x * WORKGROUP_SIZE`.
 */
export function flatWorkgroups(
  count: number,
  workgroupSize: number = FLAT_WORKGROUP_SIZE,
  maxPerDimension = 65535,
): [number, number] {
  const groups = Math.ceil(count / workgroupSize);
  if (groups <= maxPerDimension) return [Math.max(groups, 0), 1];
  const y = Math.ceil(groups / maxPerDimension);
  return [Math.ceil(groups / y), y];
}
