/**
 * Which fused attention kernels run: the variants (`AttentionKernelVariant`), the thresholds and
 * measurements behind the "auto" choice, the forced choice (`attentionKernels`) and which variants
 * have f16 forms. How each variant is launched is in ./kernels.ts and ./team_launch.ts.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import type { AttentionSizes } from "./kernels.ts";
import {
  subgroupAttentionSupported,
  type TeamVariant,
  teamVariantSupported,
} from "./team_launch.ts";

/**
 * Keys (or queries) whose scores one blocked workgroup holds at a time (a multiple of 4): at
 * N <= 256 one tile, so the forward's softmax needs no rescaling.
 */
const SCORE_TILE = 256;

/**
 * Kernel variants of the fused attention ops: "auto" picks "shared_rows" where the device has
 * subgroups of 8, up to 1025 tokens at head size 64 on a software adapter
 * (`SHARED_ROWS_MAX_TOKENS_TIMES_HEAD_SIZE`; 50 on a GPU), and "subgroup" past that; without
 * subgroups "rows" for short sequences (`ROWS_MAX_TOKENS_TIMES_HEAD_SIZE`) and "blocked" otherwise
 * (see `attentionVariant` for the measurements).
 */
export type AttentionKernelVariant = "auto" | "rows" | "shared_rows" | "blocked" | TeamVariant;

/**
 * Largest tokens x head size (head size counted as at least 16) for which "auto" picks the "rows"
 * kernels. Measured on llvmpipe (2 shared cores, packed self-attention with 4 heads, forward and
 * forward + backward, variants alternated in one process): rows won at N <= 65 for d = 16
 * (1040) and at N = 17 for d = 64 (1088), broke even at N = 197, d = 16 (3152) and lost at
 * N = 50, d = 64 (3200).
 */
export const ROWS_MAX_TOKENS_TIMES_HEAD_SIZE = 1152;

/**
 * Largest tokens x head size (head size counted as at least 16) for which "auto" picks the
 * "shared_rows" kernels where the device has subgroups of 8: N = 1025 at d = 64, the largest shape
 * measured, beyond which "subgroup" runs. Measured on lavapipe, forward / forward + backward in ms,
 * shared_rows against subgroup, variants alternated in one process
 * (`ATTENTION_GFLOPS_VARIANTS=shared_rows,subgroup ATTENTION_GFLOPS_SHAPES=197,257 deno run -A
 * bench/attention_gflops.ts 5`, then `785,1025` with 3): ViT-S/16 224 (B 16, 6 heads, N 197, d 64)
 * 47.1 / 165.7 against 60.9 / 216.6; ViT-S/14 224 (B 8, N 257) 44.1 / 148.0 against 52.6 / 182.4;
 * ViT-S/8 224 (B 2, N 785) 80.5 / 295.7 against 80.7 / 316.8; ViT-S/16 at 512 px (B 1, N 1025)
 * 64.8 / 233.4 against 67.5 / 264.4. Short sequences (same bench, median of 5): N 37, d 64
 * (B 16) rows / shared_rows / subgroup 22.7 / 63.1, 15.3 / 26.7, 18.5 / 35.5; N 50, d 64 28.8 /
 * 106.5, 17.7 / 35.7, 20.4 / 42.6; N 17, d 16 (B 256, 4 heads) 17.5 / 30.8, 15.8 / 26.6, 31.5 /
 * 62.8; N 65, d 32 (B 32, 3 heads) 26.1 / 45.9, 15.9 / 26.4, 18.3 / 33.2. (The first
 * measurement, in the commit that added the kernels, had "subgroup" ahead at N 197, 52.1 / 181.7
 * against 64.8 / 221.4, with other work sharing the cores; the bound was 3200 then.)
 */
export const SHARED_ROWS_MAX_TOKENS_TIMES_HEAD_SIZE = 1025 * 64;

/**
 * The shared_rows bound on a GPU (`Gpu.softwareAdapter` false): the short-sequence bound it had
 * before the measurements above, all of which are lavapipe's (N = 50 at d = 64). On a GPU an
 * invocation holding a 64-wide query, its accumulator and a streamed key and value row in
 * registers (64 vec4s) is a different trade, and the "subgroup" kernels past it are what the H200
 * ran in docs/GPU_CHECK.md; `bench/attention_gflops.ts` there would say where the bound belongs.
 */
export const SHARED_ROWS_GPU_MAX_TOKENS_TIMES_HEAD_SIZE = 3200;

/**
 * Which fused kernels the attention ops dispatch: "auto" (the default, see `attentionVariant`),
 * "rows" (one invocation per query or key row, no workgroup memory or barriers; fastest at small
 * N without subgroups), "shared_rows" (the rows kernels with the streamed rows loaded once per
 * aligned group of 8 subgroup lanes and passed round by subgroupShuffle; needs subgroups of a size
 * that is a multiple of 8, else "rows" runs), "blocked" (8 rows per workgroup, vec4 register
 * accumulators, scores of a key tile in workgroup memory), "subgroup" (teams of 8 subgroup lanes own 16 rows and exchange rows and
 * probabilities by subgroupShuffle; needs subgroups of a size that is a multiple of 8, else
 * "blocked" runs) or "tiled" (key/value tiles in workgroup memory read at uniform addresses, 2
 * query rows per invocation in registers; no subgroups). `scoreTile` is the key tile of the
 * blocked kernels; `rowsMaxTokensTimesHeadSize`, `sharedRowsMaxTokensTimesHeadSize` and
 * `sharedRowsGpuMaxTokensTimesHeadSize` the "auto" thresholds of the rows kernels and of the
 * shared_rows kernels on software adapters and on GPUs.
 */
export const attentionKernels: {
  variant: AttentionKernelVariant;
  scoreTile: number;
  rowsMaxTokensTimesHeadSize: number;
  sharedRowsMaxTokensTimesHeadSize: number;
  sharedRowsGpuMaxTokensTimesHeadSize: number;
} = {
  variant: "auto",
  scoreTile: SCORE_TILE,
  rowsMaxTokensTimesHeadSize: ROWS_MAX_TOKENS_TIMES_HEAD_SIZE,
  sharedRowsMaxTokensTimesHeadSize: SHARED_ROWS_MAX_TOKENS_TIMES_HEAD_SIZE,
  sharedRowsGpuMaxTokensTimesHeadSize: SHARED_ROWS_GPU_MAX_TOKENS_TIMES_HEAD_SIZE,
};

/**
 * The kernel variant the fused ops dispatch for `tokens` tokens of head size `headSize`: the
 * forced `attentionKernels.variant` ("subgroup" falls back to "blocked" and "shared_rows" to "rows"
 * where the device has no subgroups of 8), or with "auto": where the device has subgroups of 8
 * "shared_rows" up to `sharedRowsMaxTokensTimesHeadSize` (`sharedRowsGpuMaxTokensTimesHeadSize`
 * on a GPU), then "subgroup"; elsewhere "rows" up to
 * `rowsMaxTokensTimesHeadSize`, then "blocked". The shared_rows bound's measurements are at
 * `SHARED_ROWS_MAX_TOKENS_TIMES_HEAD_SIZE`; the others were taken on lavapipe (2 cores shared with
 * other work, load average 12-13; `ATTENTION_GFLOPS_SHAPES=197 ATTENTION_GFLOPS_VARIANTS=blocked,tiled,subgroup
 * deno run -A bench/attention_bench.ts --gflops 3`, then `ATTENTION_GFLOPS_SHAPES=17,65,50` with
 * every variant; variants alternated in one process, median of 3; forward / forward + backward
 * in ms): ViT-S/16 224 (B 16, 6 heads, N 197, d 64) blocked 848 / 3479, tiled 1051 / 5882,
 * subgroup 293 / 1442 (3.3 and 2.3 GFLOP/s, the 1024^3 matmul 2.8 in the same run); N 50 (B 16)
 * blocked 110 / 358, rows 177 / 587, tiled 124 / 544, subgroup 52 / 168; N 65, d 32 (B 32, 3
 * heads) blocked 72 / 279, rows 112 / 333, tiled 108 / 517, subgroup 42 / 148; N 17, d 16 (B 256,
 * 4 heads) rows 45 / 120, blocked 77 / 287, tiled 137 / 578, subgroup 96 / 271. An earlier run
 * (load 12-15) had N 257 (B 8) blocked 1759 / 7742, subgroup 596 / 3321 and N 37 blocked 78 / 444,
 * subgroup 46 / 249. "tiled" lost to "blocked" at every shape there, so "auto" never picks it; it
 * stays for adapters without subgroups where workgroup memory is fast (unmeasured).
 */
export function attentionVariant(
  tokens: number,
  headSize: number,
): Exclude<AttentionKernelVariant, "auto"> {
  const variant = attentionKernels.variant;
  if (variant === "subgroup" || variant === "tiled") {
    return teamVariantSupported(variant, headSize) ? variant : "blocked";
  }
  if (variant === "shared_rows") return subgroupAttentionSupported() ? variant : "rows";
  if (variant !== "auto") return variant;
  const work = tokens * Math.max(headSize, 16);
  if (subgroupAttentionSupported()) {
    const sharedRowsMax = gpu().softwareAdapter
      ? attentionKernels.sharedRowsMaxTokensTimesHeadSize
      : attentionKernels.sharedRowsGpuMaxTokensTimesHeadSize;
    return work <= sharedRowsMax ? "shared_rows" : "subgroup";
  }
  return work <= attentionKernels.rowsMaxTokensTimesHeadSize ? "rows" : "blocked";
}

/**
 * Whether the fused kernels picked for `sizes` have f16 forms (`#form f16` in their files: q, k,
 * v and the output stored as f16, widened as they are read; f32 sums): the "subgroup", "rows" and
 * "shared_rows" kernels, where the head size is a multiple of 4 (their f16 loads and stores are whole vec4s).
 * Elsewhere the attention ops widen f16 inputs to f32 copies first (exact; the same sums).
 */
export function hasF16Form(sizes: AttentionSizes): boolean {
  const variant = attentionVariant(sizes.tokens, sizes.headSize);
  return (variant === "subgroup" || variant === "rows" || variant === "shared_rows") &&
    sizes.headSize % 4 === 0;
}
