/**
 * How the fused attention kernels (kernels/attention/*.wgsl) are launched: the "rows" and
 * "shared_rows" kernels (one invocation per query or key row), the "blocked"
 * ones (key and value tiles through workgroup memory, online softmax), the "subgroup" and "tiled"
 * ones (./team_launch.ts), the strides of separate q, k, v or a packed qkv, the parameters and
 * workgroups of each launch. Which variant runs is ./choice.ts; the ops are in ./forward.ts and
 * ./backward.ts.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import { flatWorkgroups } from "../../gpu/launch.ts";
import type { KernelName } from "../../gpu/pipeline_cache.ts";
import { formatShape, Tensor } from "../../tensor/tensor.ts";
import { attentionKernels, attentionVariant, hasF16Form } from "./choice.ts";
import { teamLaunch } from "./team_launch.ts";

/** The largest head size the fused kernels support. */
export const MAX_HEAD_SIZE = 128;

const LOG2_E = 1.4426950408889634;

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
    // one pipeline per head size: the column loops are constants
    const headVecs = Math.ceil(sizes.headSize / 4);
    // shared_rows gives every head a whole number of groups of 8 lanes
    const slots = variant === "rows" ? sizes.tokens : Math.ceil(sizes.tokens / 8) * 8;
    return {
      kernel: `attention/${variant}_${name}${form}`,
      entryPoint: "main",
      constants: {
        WORKGROUP_SIZE: ROWS_WORKGROUP_SIZE,
        HEAD_VECS: headVecs,
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
