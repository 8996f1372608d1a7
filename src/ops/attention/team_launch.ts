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

/**
 * Invocations per workgroup of the tiled kernels: 16 at up to 512 tokens (32 query rows per
 * workgroup, so N = 197 pads to 224 rows, not 256), 32 past that.
 */
function tiledWorkgroupSize(tokens: number): number {
  return tokens <= 512 ? 16 : 32;
}

/**
 * Rows of the tiled kernels' workgroup-memory tiles: the largest of 32, 16, 8 whose two tiles (and
 * the per-row log-sum-exp and delta of the dk/dv kernel) fit the device's workgroup storage.
 */
function tiledKeyTile(headVecs: number): number {
  const storage = gpu().limits.maxComputeWorkgroupStorageSize;
  for (const tile of [32, 16]) {
    if (2 * tile * headVecs * 16 + 2 * tile * 4 <= storage) return tile;
  }
  return 8;
}

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
  return headSize > 0;
}

/**
 * WHOLE_VECS of the team kernels: 1 where the head size is a multiple of 4, so that their loads
 * drop the partial-vec4 path (measured 1.35x faster forward and forward + backward at ViT-S/16 on
 * lavapipe, where both sides of a branch run).
 */
function wholeVecs(sizes: AttentionSizes): number {
  return sizes.headSize % 4 === 0 ? 1 : 0;
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
  if (variant === "tiled") {
    const workgroupSize = tiledWorkgroupSize(sizes.tokens);
    const rows = name === "backward_key_value" ? workgroupSize : 2 * workgroupSize;
    const headVecs = Math.ceil(sizes.headSize / 4);
    return {
      kernel: `attention/tiled_${name}`,
      entryPoint: "main",
      constants: {
        WORKGROUP_SIZE: workgroupSize,
        HEAD_VECS: headVecs,
        KEY_TILE: tiledKeyTile(headVecs),
        WHOLE_VECS: wholeVecs(sizes),
      },
      workgroups: [Math.ceil(sizes.tokens / rows), sizes.batch * sizes.heads],
    };
  }
  const teams = sizes.batch * sizes.heads * Math.ceil(sizes.tokens / TEAM_ROWS);
  const teamsPerWorkgroup = TEAM_WORKGROUP_SIZE / 8;
  const workgroups = flatWorkgroups(
    Math.ceil(teams / teamsPerWorkgroup),
    1,
    gpu().limits.maxComputeWorkgroupsPerDimension,
  );
  return {
    kernel: `attention/subgroup_${name}`,
    entryPoint: "main",
    constants: {
      WORKGROUP_SIZE: TEAM_WORKGROUP_SIZE,
      COLUMN_VECS: Math.ceil(Math.ceil(sizes.headSize / 4) / 8),
      WHOLE_VECS: wholeVecs(sizes),
    },
    workgroups,
  };
}
