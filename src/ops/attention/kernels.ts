/**
 * How the fused attention kernels (kernels/attention/*.wgsl) are chosen and launched: the "rows"
 * kernels (one invocation per query or key row, for short sequences), the "blocked" ones (key
 * and value tiles through workgroup memory, online softmax), the "subgroup" and "tiled" ones
 * (./team_launch.ts), the strides of separate q, k, v or a packed qkv, the parameters and
 * workgroups of each launch. The ops are in ./forward.ts and ./backward.ts.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import { flatWorkgroups } from "../../gpu/launch.ts";
import type { KernelName } from "../../gpu/pipeline_cache.ts";
import { formatShape, Tensor } from "../../tensor/tensor.ts";
import {
  subgroupAttentionSupported,
  teamLaunch,
  type TeamVariant,
  teamVariantSupported,
} from "./team_launch.ts";

/** The largest head size the fused kernels support. */
export const MAX_HEAD_SIZE = 128;

const LOG2_E = 1.4426950408889634;

/**
 * Keys (or queries) whose scores one blocked workgroup holds at a time (a multiple of 4): at
 * N <= 256 one tile, so the forward's softmax needs no rescaling.
 */
const SCORE_TILE = 256;

/**
 * Kernel variants of the fused attention ops: "auto" picks, for short sequences, "shared_rows"
 * where the device has subgroups of 8 (see `SHARED_ROWS_MAX_TOKENS_TIMES_HEAD_SIZE`) and "rows"
 * where it does not (`ROWS_MAX_TOKENS_TIMES_HEAD_SIZE`), otherwise "subgroup" where the device runs
 * it and "blocked" where it does not (see `attentionVariant` for the measurements).
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
 * "shared_rows" kernels where the device has subgroups of 8. Measured on lavapipe
 * (`ATTENTION_GFLOPS_VARIANTS=rows,shared_rows,subgroup ATTENTION_GFLOPS_SHAPES=17,65,50,37
 * deno run -A bench/attention_gflops.ts 5`, then `shared_rows,subgroup` at `197,257` with 3;
 * forward / forward + backward in ms, rows / shared_rows / subgroup): N 37, d 64 (B 16, 6 heads)
 * 22.7 / 63.1, 15.3 / 26.7, 18.5 / 35.5; N 50, d 64 (3200) 28.8 / 106.5, 17.7 / 35.7, 20.4 / 42.6;
 * N 17, d 16 (B 256, 4 heads) 17.5 / 30.8, 15.8 / 26.6, 31.5 / 62.8; N 65, d 32 (B 32, 3 heads)
 * 26.1 / 45.9, 15.9 / 26.4, 18.3 / 33.2; behind "subgroup" at N 197, d 64 (B 16, 6 heads: 64.8 /
 * 221.4 against 52.1 / 181.7) and even at N 257 (61.3 / 211.6 against 59.4 / 218.7).
 */
export const SHARED_ROWS_MAX_TOKENS_TIMES_HEAD_SIZE = 3200;

/**
 * Which fused kernels the attention ops dispatch: "auto" (the default, see `attentionVariant`),
 * "rows" (one invocation per query or key row, no workgroup memory or barriers; fastest at small
 * N without subgroups), "shared_rows" (the rows kernels with the streamed rows loaded once per
 * aligned group of 8 subgroup lanes and passed round by subgroupShuffle; needs subgroups of a size
 * that is a multiple of 8, else "rows" runs), "blocked" (8 rows per workgroup, vec4 register accumulators, scores of a key tile in
 * workgroup memory), "subgroup" (teams of 8 subgroup lanes own 16 rows and exchange rows and
 * probabilities by subgroupShuffle; needs subgroups of a size that is a multiple of 8, else
 * "blocked" runs) or "tiled" (key/value tiles in workgroup memory read at uniform addresses, 2
 * query rows per invocation in registers; no subgroups). `scoreTile` is the key tile of the
 * blocked kernels; `rowsMaxTokensTimesHeadSize` and `sharedRowsMaxTokensTimesHeadSize` the "auto"
 * thresholds of the rows and shared_rows kernels.
 */
export const attentionKernels: {
  variant: AttentionKernelVariant;
  scoreTile: number;
  rowsMaxTokensTimesHeadSize: number;
  sharedRowsMaxTokensTimesHeadSize: number;
} = {
  variant: "auto",
  scoreTile: SCORE_TILE,
  rowsMaxTokensTimesHeadSize: ROWS_MAX_TOKENS_TIMES_HEAD_SIZE,
  sharedRowsMaxTokensTimesHeadSize: SHARED_ROWS_MAX_TOKENS_TIMES_HEAD_SIZE,
};

/**
 * The kernel variant the fused ops dispatch for `tokens` tokens of head size `headSize`: the
 * forced `attentionKernels.variant` ("subgroup" falls back to "blocked" and "shared_rows" to "rows"
 * where the device has no subgroups of 8), or with "auto": where the device has subgroups of 8
 * "shared_rows" up to `sharedRowsMaxTokensTimesHeadSize`, then "subgroup"; elsewhere "rows" up to
 * `rowsMaxTokensTimesHeadSize`, then "blocked". Measured on lavapipe (2 cores shared with other work, load
 * average 12-13; `ATTENTION_GFLOPS_SHAPES=197 ATTENTION_GFLOPS_VARIANTS=blocked,tiled,subgroup
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
    if (work <= attentionKernels.sharedRowsMaxTokensTimesHeadSize) return "shared_rows";
  } else if (work <= attentionKernels.rowsMaxTokensTimesHeadSize) return "rows";
  return teamVariantSupported("subgroup", headSize) ? "subgroup" : "blocked";
}

/** Invocations per workgroup of the rows kernels. */
const ROWS_WORKGROUP_SIZE = 64;

/** Rows (queries, or keys for dk/dv) per workgroup of the blocked kernels. */
const BLOCKED_ROWS = 8;

/** Sizes of a validated attention call. */
export interface AttentionSizes {
  /** Batch size B. */
  batch: number;
  /** Heads H. */
  heads: number;
  /** Tokens N. */
  tokens: number;
  /** Head size D. */
  headSize: number;
  /** Whether q, k, v (and the output) are stored as f16; f32 when absent. */
  f16?: boolean;
}

/**
 * Checks q (and k, v when given) are [B, H, N, D] of one shape and one dtype, f32 or f16; returns
 * the sizes.
 */
export function attentionSizes(
  op: string,
  q: Tensor,
  k: Tensor,
  v?: Tensor,
): AttentionSizes {
  const named: [string, Tensor | undefined][] = [["q", q], ["k", k], ["v", v]];
  for (const [name, input] of named) {
    if (!input) continue;
    if (input.rank !== 4) {
      throw new ShapeError(
        `${op}: ${name} must have rank 4 [batch, heads, tokens, headSize], got ` +
          `${formatShape(input.shape)} (rank ${input.rank})`,
      );
    }
    if (input.dtype !== "f32" && input.dtype !== "f16") {
      throw new ShapeError(`${op}: ${name} must be f32 or f16, got ${input.describe()}`);
    }
    if (input.dtype !== q.dtype) {
      throw new ShapeError(
        `${op}: q, k and v must have one dtype, got q ${q.describe()} and ${name} ` +
          input.describe(),
      );
    }
  }
  for (const [name, input] of named.slice(1)) {
    if (input && formatShape(input.shape) !== formatShape(q.shape)) {
      throw new ShapeError(
        `${op}: shapes differ: q ${formatShape(q.shape)} vs ${name} ${formatShape(input.shape)}`,
      );
    }
  }
  const [batch, heads, tokens, headSize] = q.shape;
  return { batch, heads, tokens, headSize, f16: q.dtype === "f16" };
}

/**
 * Whether the fused kernels picked for `sizes` have f16 forms (`#form f16` in their files: q, k,
 * v and the output stored as f16, widened as they are read; f32 sums): the "subgroup" and "rows"
 * kernels, where the head size is a multiple of 4 (their f16 loads and stores are whole vec4s).
 * Elsewhere the attention ops widen f16 inputs to f32 copies first (exact; the same sums).
 */
export function hasF16Form(sizes: AttentionSizes): boolean {
  const variant = attentionVariant(sizes.tokens, sizes.headSize);
  return (variant === "subgroup" || variant === "rows" || variant === "shared_rows") &&
    sizes.headSize % 4 === 0;
}

export function defaultScale(op: string, scale: number | undefined, headSize: number): number {
  const value = scale ?? 1 / Math.sqrt(headSize);
  if (!Number.isFinite(value)) {
    throw new ShapeError(`${op}: scale must be a finite number, got ${value}`);
  }
  return value;
}

/**
 * vec4s per row of the blocked kernels (their HEAD_VECS) for head size `headSize`: rounded up to a
 * power of two (2..32), so that there are few pipeline variants to compile (each takes seconds on
 * llvmpipe); columns past the head size are zero and cost only arithmetic.
 */
function blockedHeadVecs(headSize: number): number {
  return Math.max(2, 2 ** Math.ceil(Math.log2(Math.ceil(headSize / 4))));
}

export function checkHeadSize(op: string, sizes: AttentionSizes, input: string): void {
  if (sizes.headSize > MAX_HEAD_SIZE || sizes.headSize < 1) {
    throw new ShapeError(
      `${op}: head size must be 1..${MAX_HEAD_SIZE}, got ${sizes.headSize} (${input})`,
    );
  }
  const heads = sizes.batch * sizes.heads;
  if (heads > gpu().limits.maxComputeWorkgroupsPerDimension) {
    throw new ShapeError(
      `${op}: batch x heads ${heads} exceeds the device limit of ` +
        `${gpu().limits.maxComputeWorkgroupsPerDimension} workgroups per dimension`,
    );
  }
}

/**
 * Where the kernels find element (b, h, row, c): for q, k, v (and their gradients) at
 * `offset + b * inBatch + h * inHead + row * inRow + c` with offset qOffset, kOffset or vOffset;
 * for the output (and its gradient) at `b * outBatch + h * outHead + row * outRow + c`.
 */
export interface AttentionLayout {
  qOffset: number;
  kOffset: number;
  vOffset: number;
  inBatch: number;
  inHead: number;
  inRow: number;
  outBatch: number;
  outHead: number;
  outRow: number;
}

/** Layout of separate contiguous q, k, v and output tensors [B, H, N, D]. */
export function separateLayout({ heads, tokens, headSize }: AttentionSizes): AttentionLayout {
  const head = tokens * headSize;
  return {
    qOffset: 0,
    kOffset: 0,
    vOffset: 0,
    inBatch: heads * head,
    inHead: head,
    inRow: headSize,
    outBatch: heads * head,
    outHead: head,
    outRow: headSize,
  };
}

/** Layout of a packed qkv [B, N, 3, H, d] and an output with heads merged [B, N, H, d]. */
export function packedLayout({ heads, tokens, headSize }: AttentionSizes): AttentionLayout {
  const width = heads * headSize;
  return {
    qOffset: 0,
    kOffset: width,
    vOffset: 2 * width,
    inBatch: tokens * 3 * width,
    inHead: headSize,
    inRow: 3 * width,
    outBatch: tokens * width,
    outHead: headSize,
    outRow: width,
  };
}

/** The uniform parameters shared by the fused kernels. */
function fusedParams(sizes: AttentionSizes, layout: AttentionLayout, scale: number): Uint32Array {
  const params = new Uint32Array(16);
  const floats = new Float32Array(params.buffer);
  params[0] = sizes.batch * sizes.heads;
  params[1] = sizes.tokens;
  params[2] = sizes.headSize;
  params[3] = sizes.heads;
  floats[4] = scale;
  floats[5] = scale * LOG2_E;
  params.set([
    layout.qOffset,
    layout.kOffset,
    layout.vOffset,
    layout.inBatch,
    layout.inHead,
    layout.inRow,
    layout.outBatch,
    layout.outHead,
    layout.outRow,
  ], 6);
  return params;
}

/** Kernel, entry point, override constants and workgroups of one fused attention kernel. */
interface FusedLaunch {
  kernel: KernelName;
  entryPoint: string;
  constants: Record<string, number>;
  workgroups: [number, number];
}

/**
 * The launch of fused kernel `name` ("forward", "backward_query" or "backward_key_value") in the
 * variant picked for `sizes`.
 */
function fusedLaunch(
  name: "forward" | "backward_query" | "backward_key_value",
  sizes: AttentionSizes,
): FusedLaunch {
  const variant = attentionVariant(sizes.tokens, sizes.headSize);
  if (sizes.f16 && !hasF16Form(sizes)) {
    throw new Error(
      `attention: no f16 form of the ${variant} kernels at head size ${sizes.headSize}`,
    );
  }
  const form = sizes.f16 ? "_f16" : "";
  const heads = sizes.batch * sizes.heads;
  if (variant === "subgroup" || variant === "tiled") {
    const launch = teamLaunch(variant, name, sizes);
    return { ...launch, kernel: `${launch.kernel}${form}` as KernelName };
  }
  if (variant === "rows" || variant === "shared_rows") {
    // one pipeline per head size: the column loops and the last partial vec4 are constants
    const headVecs = Math.ceil(sizes.headSize / 4);
    // shared_rows gives every head a whole number of groups of 8 lanes
    const slots = variant === "rows" ? sizes.tokens : Math.ceil(sizes.tokens / 8) * 8;
    return {
      kernel: `attention/${variant === "rows" ? "rows" : "shared_rows"}_${name}${form}`,
      entryPoint: "main",
      constants: {
        WORKGROUP_SIZE: ROWS_WORKGROUP_SIZE,
        HEAD_VECS: headVecs,
        LAST_COLUMNS: sizes.headSize - 4 * (headVecs - 1),
        WHOLE_VECS: sizes.headSize % 4 === 0 ? 1 : 0,
      },
      workgroups: flatWorkgroups(heads * slots, ROWS_WORKGROUP_SIZE),
    };
  }
  const headVecs = blockedHeadVecs(sizes.headSize);
  return {
    kernel: `attention/${name}`,
    entryPoint: "main",
    constants: {
      HEAD_VECS: headVecs,
      LANES: Math.max(8, headVecs),
      QUADS: attentionKernels.scoreTile / 4,
      // 1 drops the partial-vec4 load path where the head size is a multiple of 4 (measured at
      // ViT-S/16 on lavapipe, alternated in one run: forward unchanged, forward + backward 1.4x)
      WHOLE_VECS: sizes.headSize % 4 === 0 ? 1 : 0,
    },
    workgroups: [Math.ceil(sizes.tokens / BLOCKED_ROWS), heads],
  };
}

/** Dispatches the fused forward: writes `output` and `logSumExp` [B * H, N]. */
export function dispatchForward(
  sources: [GPUBuffer, GPUBuffer, GPUBuffer],
  output: Tensor,
  logSumExp: Tensor,
  sizes: AttentionSizes,
  layout: AttentionLayout,
  scale: number,
): void {
  gpu().dispatch({
    ...fusedLaunch("forward", sizes),
    buffers: [...sources, output.buffer, logSumExp.buffer],
    params: fusedParams(sizes, layout, scale),
  });
}

/**
 * Dispatches the fused backward: delta, then dq into `gradQuery`, then dk and dv into `gradKey`
 * and `gradValue` (or both into `gradKey` when `gradValue` is absent: the packed gradient).
 */
export function dispatchBackward(
  gradOutput: Tensor,
  output: Tensor,
  logSumExp: Tensor,
  sources: [GPUBuffer, GPUBuffer, GPUBuffer],
  gradQuery: GPUBuffer,
  gradKey: GPUBuffer,
  gradValue: GPUBuffer | undefined,
  sizes: AttentionSizes,
  layout: AttentionLayout,
  scale: number,
): void {
  const { batch, heads, tokens, headSize } = sizes;
  const rows = batch * heads * tokens;
  const delta = Tensor.empty([batch * heads, tokens]);
  gpu().dispatch({
    kernel: sizes.f16 ? "attention/backward_delta_f16" : "attention/backward_delta",
    constants: { WORKGROUP_SIZE: 64 },
    buffers: [gradOutput.buffer, output.buffer, delta.buffer],
    params: new Uint32Array([
      rows,
      headSize,
      tokens,
      heads,
      layout.outBatch,
      layout.outHead,
      layout.outRow,
    ]),
    workgroups: flatWorkgroups(rows, 64),
  });
  const params = fusedParams(sizes, layout, scale);
  const saved = [gradOutput.buffer, logSumExp.buffer, delta.buffer];
  gpu().dispatch({
    ...fusedLaunch("backward_query", sizes),
    buffers: [...sources, ...saved, gradQuery],
    params,
  });
  // the packed gradient is one writable binding; the value slot then gets a placeholder
  const placeholder = gradValue ? undefined : Tensor.empty([1]);
  const keyValue = fusedLaunch("backward_key_value", sizes);
  gpu().dispatch({
    ...keyValue,
    constants: { ...keyValue.constants, SEPARATE_VALUE_GRAD: gradValue ? 1 : 0 },
    buffers: [...sources, ...saved, gradKey, gradValue ?? placeholder!.buffer],
    params,
  });
  placeholder?.dispose();
  delta.dispose();
}
