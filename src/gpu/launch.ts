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

/** vec4s an invocation of a flat kernel's `main_vec4` takes (its VECTORS_PER_INVOCATION). */
const VECTORS_PER_INVOCATION = 4;

/**
 * The launch of a flat kernel over `count` f32 words that has both entry points of
 * kernels/include/flat_main.wgsl and flat_vec4.wgsl: `main_vec4` (four vec4s per invocation)
 * where every buffer holds whole vec4s up to `count` (pooled buffers do), else `main` (one word per
 * invocation).
 */
export function flatLaunch(
  count: number,
  buffers: readonly GPUBuffer[],
): { entryPoint: "main" | "main_vec4"; workgroups: [number, number] } {
  const vectors = Math.ceil(count / 4);
  if (buffers.every((buffer) => buffer.size >= vectors * 16)) {
    return {
      entryPoint: "main_vec4",
      workgroups: flatWorkgroups(Math.ceil(vectors / VECTORS_PER_INVOCATION)),
    };
  }
  return { entryPoint: "main", workgroups: flatWorkgroups(count) };
}
