/**
 * Reduction ops (forward): `sum`, `mean` and `max` over any axis, `sumAll`, `meanAll`, and
 * `l2Normalize` over the last axis; plus `sumToShape`, which gradient rules use to undo
 * broadcasting. Their gradient rules are in src/ops/reduction/backward.ts.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import { flatWorkgroups } from "../../gpu/launch.ts";
import { record } from "../../tensor/tape.ts";
import { clone, formatShape, type Shape, shapeSize, Tensor } from "../../tensor/tensor.ts";
import { broadcastShapes, requireF32 } from "../elementwise/forward.ts";

/** Attributes of the reduction ops, keyed by op name. */
export interface ReductionOps {
  /** Sum over `axis` (non-negative). */
  sum: { axis: number; keepDims: boolean };
  /** Mean over `axis` (non-negative). */
  mean: { axis: number; keepDims: boolean };
  /** Maximum over `axis` (non-negative); the gradient goes to the first maximum. */
  max: { axis: number; keepDims: boolean };
  /** Sum of every element. */
  sumAll: Record<string, never>;
  /** Mean of every element. */
  meanAll: Record<string, never>;
  /** `x / max(||x||_2, eps)` over the last axis. */
  l2Normalize: { eps: number };
}

let reductionMode: RowKernelMode | undefined;

/**
 * Forces `sum`/`mean` to the earlier kernels (`workgroup`: one workgroup per output for axes of
 * 64 or more, one invocation per output otherwise), or back to the automatic choice with
 * `undefined`. For benchmarks that compare the variants.
 */
export function setReductionMode(mode: "workgroup" | undefined): void {
  reductionMode = mode;
}

/** Shortest axis length reduced by a whole workgroup rather than one invocation. */
const WORKGROUP_REDUCTION_MIN_LENGTH = 64;

/** Workgroup size of the one-workgroup-per-row kernels for rows of `length` elements. */
export function rowWorkgroupSize(length: number): number {
  return length >= 2048 ? 256 : length >= 256 ? 128 : 64;
}

/** How the row kernels (layerNorm, softmax, ...) spread a row over invocations. */
export type RowKernelMode = "workgroup" | "invocation";

/** Longest row that one invocation reduces alone (with plain loops) in the automatic choice. */
export const SHORT_ROW_MAX_LENGTH = 1024;

let rowKernelOverride: RowKernelMode | undefined;

/**
 * Forces the row kernels to one mode (`workgroup`: one workgroup per row with a tree reduction;
 * `invocation`: one invocation per row with plain loops), or back to the automatic choice with
 * `undefined`. For benchmarks and tests that compare the variants.
 */
export function setRowKernelMode(mode: RowKernelMode | undefined): void {
  rowKernelOverride = mode;
}

/**
 * The row-kernel mode for `rows` rows of `length` elements: one invocation per row for short
 * rows (no barriers: they are expensive on CPU-emulated GPUs such as llvmpipe), one workgroup
 * per row for long rows or for too few rows to fill the machine.
 */
export function rowKernelMode(rows: number, length: number): RowKernelMode {
  if (rowKernelOverride) return rowKernelOverride;
  return length <= SHORT_ROW_MAX_LENGTH && rows >= 256 ? "invocation" : "workgroup";
}

/** Invocations per workgroup of the one-invocation-per-row kernels. */
export const SHORT_ROW_WORKGROUP_SIZE = 16;

/** Entry point, override constants and workgroup counts of one row-kernel launch. */
export interface RowLaunch {
  /** Entry point: `entryPoint`, or its short-row twin. */
  entryPoint: string;
  /** Override constants, the workgroup size included. */
  constants: Record<string, number>;
  /** Workgroup counts. */
  workgroups: [number, number];
}

/**
 * The launch of a row kernel for `rows` rows of `length` elements, as `rowKernelMode` chooses:
 * `entryPoint` with one workgroup per row, or its one-invocation-per-row twin (`short_rows` for
 * `main`, `<entryPoint>_short_rows` otherwise). `constants` are added to the workgroup size.
 */
export function rowLaunch(
  rows: number,
  length: number,
  entryPoint = "main",
  constants: Record<string, number> = {},
): RowLaunch {
  if (rowKernelMode(rows, length) === "invocation") {
    return {
      entryPoint: entryPoint === "main" ? "short_rows" : `${entryPoint}_short_rows`,
      constants: { ...constants, WORKGROUP_SIZE: SHORT_ROW_WORKGROUP_SIZE },
      workgroups: flatWorkgroups(rows, SHORT_ROW_WORKGROUP_SIZE),
    };
  }
  return {
    entryPoint,
    constants: { ...constants, WORKGROUP_SIZE: rowWorkgroupSize(length) },
    workgroups: flatWorkgroups(rows, 1),
  };
}

/** Resolves a possibly negative `axis` of a rank-`rank` tensor; throws naming `op` if invalid. */
export function resolveAxis(op: string, shape: Shape, axis: number): number {
  const rank = shape.length;
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new ShapeError(
      `${op}: axis ${axis} is out of range for shape ${formatShape(shape)} ` +
        `(rank ${rank}, want ${-rank} <= axis < ${rank})`,
    );
  }
  return axis < 0 ? axis + rank : axis;
}

/** The input viewed as [outer, length, inner] around `axis`. */
export function splitAt(
  shape: Shape,
  axis: number,
): { outer: number; length: number; inner: number } {
  return {
    outer: shapeSize(shape.slice(0, axis)),
    length: shape[axis],
    inner: shapeSize(shape.slice(axis + 1)),
  };
}

/** Output shape of a reduction over `axis`. */
function reducedShape(shape: Shape, axis: number, keepDims: boolean): number[] {
  return keepDims
    ? shape.map((extent, index) => (index === axis ? 1 : extent))
    : shape.filter((_, index) => index !== axis);
}

/** `scale * sum` over the middle axis of `x` viewed as [outer, length, inner]; no tape. */
function launchSum(
  x: Tensor,
  outer: number,
  length: number,
  inner: number,
  scaleFactor: number,
  shape: Shape,
): Tensor {
  const output = Tensor.empty(shape);
  const outputs = outer * inner;
  if (outputs === 0) return output;
  if (inner > 1 && reductionMode !== "workgroup") {
    launchColumns(x, output, outer, length, inner, scaleFactor);
    return output;
  }
  const words = new Uint32Array([outer, length, inner, 0]);
  new Float32Array(words.buffer, 12, 1)[0] = scaleFactor;
  const useRows = length >= WORKGROUP_REDUCTION_MIN_LENGTH &&
    (reductionMode === "workgroup" || rowKernelMode(outputs, length) === "workgroup");
  const workgroupSize = useRows ? rowWorkgroupSize(length) : 64;
  gpu().dispatch({
    kernel: "reduction/sum",
    entryPoint: useRows ? "rows" : "simple",
    constants: { WORKGROUP_SIZE: workgroupSize },
    buffers: [x.buffer, output.buffer],
    params: words,
    workgroups: useRows ? flatWorkgroups(outputs, 1) : flatWorkgroups(outputs, workgroupSize),
  });
  return output;
}

/** Elements per chunk of the first pass of a strided (inner > 1) sum, at least. */
const COLUMN_MIN_CHUNK = 32;
/** Invocations the first pass of a strided sum aims for, so that every core gets work. */
const COLUMN_TARGET_INVOCATIONS = 16384;

/** One `columns` launch: `chunks` partial sums of each output of [outer, length, inner]. */
function launchColumnsPass(
  x: Tensor,
  target: Tensor,
  outer: number,
  length: number,
  inner: number,
  scaleFactor: number,
  chunks: number,
): void {
  const workgroupSize = 64;
  const words = new Uint32Array([outer, length, inner, 0]);
  new Float32Array(words.buffer, 12, 1)[0] = scaleFactor;
  // four neighbouring columns per invocation, as vec4s, where the columns come in fours
  const vec4 = inner % 4 === 0;
  const [groupsX, groupsZ] = flatWorkgroups(outer * inner / (vec4 ? 4 : 1), workgroupSize);
  gpu().dispatch({
    kernel: "reduction/sum",
    entryPoint: vec4 ? "columns_vec4" : "columns",
    constants: { WORKGROUP_SIZE: workgroupSize },
    buffers: [x.buffer, target.buffer],
    params: words,
    workgroups: [groupsX, chunks, groupsZ],
  });
}

/**
 * Sum over the middle axis of [outer, length, inner] into `output`, times `scaleFactor`, by
 * columns (reduction/sum's `columns`): neighbouring invocations read neighbouring elements; few
 * outputs over a long axis take two passes (partial sums over chunks of the axis, then their
 * sum). `forcedChunks` sets the number of chunks (1: one pass; at most `length`). Used by `sum`
 * and `mean` where inner > 1 and by the matmul gradients' `sumBlocks`.
 */
export function launchColumns(
  x: Tensor,
  output: Tensor,
  outer: number,
  length: number,
  inner: number,
  scaleFactor: number,
  forcedChunks?: number,
): void {
  const outputs = outer * inner;
  const wanted = forcedChunks ?? Math.min(
    Math.ceil(length / COLUMN_MIN_CHUNK),
    Math.ceil(COLUMN_TARGET_INVOCATIONS / outputs),
  );
  const chunks = Math.max(1, Math.min(wanted, length, 65535));
  if (chunks === 1) {
    launchColumnsPass(x, output, outer, length, inner, scaleFactor, 1);
    return;
  }
  const used = Math.ceil(length / Math.ceil(length / chunks));
  const partials = Tensor.empty([used, outputs]);
  launchColumnsPass(x, partials, outer, length, inner, 1, used);
  launchColumnsPass(partials, output, 1, used, outputs, scaleFactor, 1);
  partials.dispose();
}

/** Sum over `axis` (negative counts from the end); `keepDims` keeps it as a size-1 axis. */
export function sum(x: Tensor, axis: number, keepDims = false): Tensor {
  requireF32("sum", x);
  const resolved = resolveAxis("sum", x.shape, axis);
  const { outer, length, inner } = splitAt(x.shape, resolved);
  const output = launchSum(x, outer, length, inner, 1, reducedShape(x.shape, resolved, keepDims));
  return record("sum", [x], output, { axis: resolved, keepDims });
}

/** Mean over `axis` (negative counts from the end); `keepDims` keeps it as a size-1 axis. */
export function mean(x: Tensor, axis: number, keepDims = false): Tensor {
  requireF32("mean", x);
  const resolved = resolveAxis("mean", x.shape, axis);
  const { outer, length, inner } = splitAt(x.shape, resolved);
  const output = launchSum(
    x,
    outer,
    length,
    inner,
    1 / length,
    reducedShape(x.shape, resolved, keepDims),
  );
  return record("mean", [x], output, { axis: resolved, keepDims });
}

/**
 * Maximum over `axis` (negative counts from the end); `keepDims` keeps it as a size-1 axis. The
 * gradient flows to the maximum; on ties, to the first (lowest index) one.
 */
export function max(x: Tensor, axis: number, keepDims = false): Tensor {
  requireF32("max", x);
  const resolved = resolveAxis("max", x.shape, axis);
  const { outer, length, inner } = splitAt(x.shape, resolved);
  if (length === 0) {
    throw new ShapeError(`max: axis ${axis} of shape ${formatShape(x.shape)} is empty`);
  }
  const shape = reducedShape(x.shape, resolved, keepDims);
  const output = Tensor.empty(shape);
  const indices = Tensor.empty(shape, "i32");
  const outputs = outer * inner;
  if (outputs > 0) {
    const useRows = length >= WORKGROUP_REDUCTION_MIN_LENGTH;
    const workgroupSize = useRows ? rowWorkgroupSize(length) : 64;
    gpu().dispatch({
      kernel: "reduction/max",
      entryPoint: useRows ? "rows" : "simple",
      constants: { WORKGROUP_SIZE: workgroupSize },
      buffers: [x.buffer, output.buffer, indices.buffer],
      params: new Uint32Array([outer, length, inner, 0]),
      workgroups: useRows ? flatWorkgroups(outputs, 1) : flatWorkgroups(outputs, workgroupSize),
    });
  }
  record("max", [x], output, { axis: resolved, keepDims }, [indices]);
  indices.dispose();
  return output;
}

/** Sum of every element, as a tensor of shape `[]`. */
export function sumAll(x: Tensor): Tensor {
  requireF32("sumAll", x);
  return record("sumAll", [x], launchSum(x, 1, x.size, 1, 1, []), {});
}

/** Mean of every element, as a tensor of shape `[]`. */
export function meanAll(x: Tensor): Tensor {
  requireF32("meanAll", x);
  return record("meanAll", [x], launchSum(x, 1, x.size, 1, 1 / x.size, []), {});
}

/** Row count and row length of `x` seen as rows over its last axis; throws for rank 0. */
export function lastAxisRows(op: string, x: Tensor): { rows: number; length: number } {
  if (x.rank === 0) {
    throw new ShapeError(`${op}: needs at least one axis, got ${x.describe()}`);
  }
  const length = x.shape[x.rank - 1];
  return { rows: length === 0 ? 0 : x.size / length, length };
}

/** One launch of the l2Normalize row kernel (entry point `forward`, or `backward` with `gradOut`). */
export function launchL2Normalize(
  entryPoint: "forward" | "backward",
  x: Tensor,
  eps: number,
  gradOut?: Tensor,
): Tensor {
  const { rows, length } = lastAxisRows("l2Normalize", x);
  const output = Tensor.empty(x.shape);
  const words = new Uint32Array([rows, length, 0, 0]);
  new Float32Array(words.buffer, 8, 1)[0] = eps;
  gpu().dispatch({
    kernel: "reduction/l2_normalize",
    ...rowLaunch(rows, length, entryPoint),
    buffers: gradOut ? [x.buffer, output.buffer, gradOut.buffer] : [x.buffer, output.buffer],
    params: words,
  });
  return output;
}

/** `x / max(||x||_2, eps)` over the last axis, as PyTorch's `F.normalize(x, dim=-1)`. */
export function l2Normalize(x: Tensor, eps = 1e-12): Tensor {
  requireF32("l2Normalize", x);
  const output = launchL2Normalize("forward", x, eps);
  return record("l2Normalize", [x], output, { eps }, [x]);
}

/**
 * Sums `grad` over the axes along which an input of shape `shape` was broadcast, so that the
 * result has `shape` (the gradient of broadcasting). Not recorded on the tape. Returns `grad`
 * itself when it already has `shape`, else a new tensor.
 */
export function sumToShape(grad: Tensor, shape: Shape): Tensor {
  const sameShape = grad.shape.length === shape.length &&
    grad.shape.every((extent, axis) => extent === shape[axis]);
  if (sameShape) return grad;
  const broadcast = broadcastShapes("sumToShape", grad.shape, shape);
  if (broadcast.length !== grad.rank || broadcast.some((e, i) => e !== grad.shape[i])) {
    throw new ShapeError(
      `sumToShape: ${formatShape(shape)} does not broadcast to ${formatShape(grad.shape)}`,
    );
  }
  if (grad.size === shapeSize(shape)) {
    const copy = clone(grad);
    const reshaped = copy.view(shape);
    copy.dispose();
    return reshaped;
  }
  const lead = grad.rank - shape.length;
  let current = grad;
  if (lead > 0) {
    const rest = grad.shape.slice(lead);
    current = launchSum(grad, 1, shapeSize(grad.shape.slice(0, lead)), shapeSize(rest), 1, rest);
  }
  for (let axis = 0; axis < shape.length; axis++) {
    if (shape[axis] !== 1 || current.shape[axis] === 1) continue;
    const { outer, length, inner } = splitAt(current.shape, axis);
    const next = launchSum(
      current,
      outer,
      length,
      inner,
      1,
      reducedShape(current.shape, axis, true),
    );
    if (current !== grad) current.dispose();
    current = next;
  }
  return current;
}
