/**
 * Launches of the "subgroup" and "tiled" fused attention kernels (kernels/attention/subgroup_*.wgsl
 * and tiled_*.wgsl): teams of 8 lanes, 16 rows per team (include/attention_team.wgsl), and which
 * devices and head sizes each runs on.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import type { KernelName } from "../../gpu/pipeline_cache.ts";
import { flatWorkgroups } from "../../gpu/launch.ts";
import { hasSubgroupsOfEight } from "../matmul/variants.ts";
import type { AttentionSizes } from "./kernels.ts";

/** The fused attention kernels made of teams of 8 lanes. */
export type TeamVariant = "subgroup" | "tiled";

/** Rows (queries, or keys for dk and dv) per team. */
const TEAM_ROWS = 16;

/** Invocations per workgroup of the team kernels (8 teams). */
const TEAM_WORKGROUP_SIZE = 64;

/** Whether the tiled kernels exist yet (until then "tiled" falls back to "blocked"). */
const TILED_READY = false;

/** The largest head size of the tiled kernels (their workgroup memory holds the rows). */
export const TILED_MAX_HEAD_SIZE = 64;

/**
 * Whether the device runs the "subgroup" kernels: the subgroups feature with a subgroup size that
 * is a multiple of 8 (read from the adapter where it reports one) and lanes in order (the check of
 * src/gpu/subgroup_lanes.ts), as the subgroup matmul needs.
 */
export function subgroupAttentionSupported(): boolean {
  return hasSubgroupsOfEight();
}

/** Whether `variant` runs attention of head size `headSize` on this device. */
export function teamVariantSupported(variant: TeamVariant, headSize: number): boolean {
  if (variant === "subgroup") return subgroupAttentionSupported();
  return TILED_READY && headSize <= TILED_MAX_HEAD_SIZE;
}

/** Kernel, override constants and workgroups of one team kernel launch. */
export interface TeamLaunch {
  /** The kernel file. */
  kernel: KernelName;
  /** Its entry point. */
  entryPoint: string;
  /** Its override constants. */
  constants: Record<string, number>;
  /** Workgroups (x, y). */
  workgroups: [number, number];
}

/**
 * The launch of team kernel `name` ("forward", "backward_query" or "backward_key_value") of
 * `variant` for `sizes`: one team per 16 rows of each head.
 */
export function teamLaunch(
  variant: TeamVariant,
  name: "forward" | "backward_query" | "backward_key_value",
  sizes: AttentionSizes,
): TeamLaunch {
  const teams = sizes.batch * sizes.heads * Math.ceil(sizes.tokens / TEAM_ROWS);
  const teamsPerWorkgroup = TEAM_WORKGROUP_SIZE / 8;
  const workgroups = flatWorkgroups(
    Math.ceil(teams / teamsPerWorkgroup),
    1,
    gpu().limits.maxComputeWorkgroupsPerDimension,
  );
  return {
    kernel: `attention/${variant}_${name}` as KernelName,
    entryPoint: "main",
    constants: {
      WORKGROUP_SIZE: TEAM_WORKGROUP_SIZE,
      COLUMN_VECS: Math.ceil(Math.ceil(sizes.headSize / 4) / 8),
    },
    workgroups,
  };
}
