/**
 * Reduction ops (forward): `sum`, `mean` and `max` over any axis, `sumAll`, `meanAll`, and
 * `l2Normalize` over the last axis; plus `sumToShape`, which gradient rules use to undo
 * broadcasting. Their gradient rules are in src/tensor/grad/reduction.ts.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import { flatWorkgroups } from "../../gpu/launch.ts";
import { record } from "../tape.ts";
import { clone, formatShape, type Shape, shapeSize, Tensor } from "../tensor.ts";
import { broadcastShapes, requireF32 } from "./elementwise.ts";

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

/** Shortest axis length reduced by a whole workgroup rather than one invocation. */
const WORKGROUP_REDUCTION_MIN_LENGTH = 64;

/** Workgroup size of the one-workgroup-per-row kernels for rows of `length` elements. */
export function rowWorkgroupSize(length: number): number {
  return length >= 2048 ? 256 : length >= 256 ? 128 : 64;
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
function splitAt(shape: Shape, axis: number) {
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
  const words = new Uint32Array([outer, length, inner, 0]);
  new Float32Array(words.buffer, 12, 1)[0] = scaleFactor;
  const useRows = length >= WORKGROUP_REDUCTION_MIN_LENGTH;
  const workgroupSize = useRows ? rowWorkgroupSize(length) : 64;
  gpu().dispatch({
    kernel: "reduction",
    entryPoint: useRows ? "rows" : "simple",
    constants: { WORKGROUP_SIZE: workgroupSize },
    buffers: [x.buffer, output.buffer],
    params: words,
    workgroups: useRows ? flatWorkgroups(outputs, 1) : flatWorkgroups(outputs, workgroupSize),
  });
  return output;
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
      kernel: "reduction_max",
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

/**
 * Gradient of `max` (used by its rule): `gradOut` placed at the saved argmax `indices` of an
 * input of shape `shape`, zero elsewhere.
 */
export function maxBackward(
  indices: Tensor,
  gradOut: Tensor,
  shape: Shape,
  axis: number,
): Tensor {
  const { outer, length, inner } = splitAt(shape, axis);
  const output = Tensor.empty(shape);
  gpu().dispatch({
    kernel: "reduction_max_backward",
    buffers: [indices.buffer, gradOut.buffer, output.buffer],
    params: new Uint32Array([outer, length, inner, 0]),
    workgroups: flatWorkgroups(output.size),
  });
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

function launchL2Normalize(
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
    kernel: "reduction_l2_normalize",
    entryPoint,
    constants: { WORKGROUP_SIZE: rowWorkgroupSize(length) },
    buffers: gradOut ? [x.buffer, output.buffer, gradOut.buffer] : [x.buffer, output.buffer],
    params: words,
    workgroups: flatWorkgroups(rows, 1),
  });
  return output;
}

/** `x / max(||x||_2, eps)` over the last axis, as PyTorch's `F.normalize(x, dim=-1)`. */
export function l2Normalize(x: Tensor, eps = 1e-12): Tensor {
  requireF32("l2Normalize", x);
  const output = launchL2Normalize("forward", x, eps);
  return record("l2Normalize", [x], output, { eps }, [x]);
}

/** Gradient of `l2Normalize` with respect to `x` (used by its rule). */
export function l2NormalizeBackward(x: Tensor, gradOut: Tensor, eps: number): Tensor {
  return launchL2Normalize("backward", x, eps, gradOut);
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
