/**
 * Shape ops (forward): reshape, permute/transpose, concat, slice/split; the row ops
 * gatherRows/scatterRows are in ./rows.ts. Their gradient rules are in ./backward.ts. Data-moving
 * kernels copy 32-bit words, so they serve every dtype; only f32 tensors get gradients.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import { flatWorkgroups } from "../../gpu/launch.ts";
import { record } from "../../tensor/tape.ts";
import { formatShape, type Shape, shapeSize, Tensor } from "../../tensor/tensor.ts";

/** Attributes of the shape ops, keyed by op name. */
export interface ShapeOps {
  /** `reshape(x, shape)`: the shape of the input, to reshape the gradient back. */
  reshape: { inputShape: Shape };
  /** `permute(x, order)`: output axis d is input axis `order[d]`. */
  permute: { order: readonly number[] };
  /** `concat(tensors, axis)`: the axis and each input's extent along it. */
  concat: { axis: number; extents: readonly number[] };
  /** `slice(x, axis, start, end)`: the input's shape and the kept range. */
  slice: { inputShape: Shape; axis: number; start: number; end: number };
  /** `gatherRows(x, indices)`: the number of rows of `x`. */
  gatherRows: { rows: number };
  /** `scatterRows(base, indices, rows)`: no attributes. */
  scatterRows: Record<never, never>;
}

/** Largest rank the permute kernel handles. */
export const MAX_PERMUTE_RANK = 8;

/** Resolves a possibly negative axis against `rank`, or throws naming `op`. */
function resolveAxis(op: string, axis: number, rank: number, shape: Shape): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new ShapeError(
      `${op}: axis ${axis} out of range for shape ${formatShape(shape)} (rank ${rank})`,
    );
  }
  return axis < 0 ? axis + rank : axis;
}

/** Row-major strides of `shape`. */
function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= shape[d];
  }
  return strides;
}

/**
 * Copies blocks of 32-bit words: for each of `outer` blocks of `inner` words,
 * `destination[o * destinationStride + destinationOffset + r] = source[o * sourceStride +
 * sourceOffset + r]`. Used by concat, slice and their gradients.
 */
export function copyBlocks(
  destination: Tensor,
  source: Tensor,
  block: {
    outer: number;
    inner: number;
    sourceStride: number;
    sourceOffset: number;
    destinationStride: number;
    destinationOffset: number;
  },
): void {
  const count = block.outer * block.inner;
  if (count === 0) return;
  const chunk = Math.min(block.inner, SHAPE_COPY_CHUNK);
  const parts = Math.ceil(block.inner / chunk);
  const perElement = (copyModeOverride ?? "runs") === "elements";
  const workgroupSize = perElement ? 256 : 64;
  gpu().dispatch({
    kernel: "shape/copy",
    entryPoint: perElement ? "main" : "runs",
    constants: { WORKGROUP_SIZE: workgroupSize },
    buffers: [destination.buffer, source.buffer],
    params: Uint32Array.of(
      count,
      block.inner,
      block.sourceStride,
      block.sourceOffset,
      block.destinationStride,
      block.destinationOffset,
      chunk,
      parts,
    ),
    workgroups: flatWorkgroups(perElement ? count : block.outer * parts, workgroupSize),
  });
}

/** Elements one invocation of the `runs` block copy copies, at most. */
const SHAPE_COPY_CHUNK = 32;

let copyModeOverride: "elements" | "runs" | undefined;

/**
 * Forces the block-copy kernel variant (`elements`: one invocation per element, the earlier
 * kernel; `runs`: one per run of up to 32 elements), or back to the default with `undefined`.
 */
export function setCopyBlocksMode(mode: "elements" | "runs" | undefined): void {
  copyModeOverride = mode;
}

/**
 * A view of `x` with another shape of the same size (no copy); one axis may be -1 and is then
 * inferred. Recorded so that the gradient is reshaped back.
 */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const inferred = shape.filter((extent) => extent === -1).length;
  if (inferred > 1) {
    throw new ShapeError(
      `reshape: at most one axis may be -1, got ${formatShape(shape)} for ${formatShape(x.shape)}`,
    );
  }
  let target = [...shape];
  if (inferred === 1) {
    const known = shapeSize(shape.filter((extent) => extent !== -1));
    if (known === 0 || x.size % known !== 0) {
      throw new ShapeError(
        `reshape: cannot infer the -1 axis of ${formatShape(shape)} from ${
          formatShape(x.shape)
        } (${x.size} elements)`,
      );
    }
    target = shape.map((extent) => extent === -1 ? x.size / known : extent);
  }
  if (
    target.some((extent) => !Number.isInteger(extent) || extent < 0) ||
    shapeSize(target) !== x.size
  ) {
    throw new ShapeError(
      `reshape: cannot reshape ${formatShape(x.shape)} (${x.size} elements) to ${
        formatShape(shape)
      }`,
    );
  }
  const output = x.view(target);
  return record("reshape", [x], output, { inputShape: x.shape });
}

/** Reorders the axes: output axis d is input axis `order[d]` (a permutation; rank up to 8). */
export function permute(x: Tensor, order: readonly number[]): Tensor {
  const rank = x.rank;
  const seen = new Set<number>();
  const resolved = order.map((axis) => {
    if (!Number.isInteger(axis) || axis < -rank || axis >= rank) return NaN;
    return axis < 0 ? axis + rank : axis;
  });
  for (const axis of resolved) if (!Number.isNaN(axis)) seen.add(axis);
  if (order.length !== rank || seen.size !== rank) {
    throw new ShapeError(
      `permute: order [${order.join(", ")}] is not a permutation of the axes of ${
        formatShape(x.shape)
      }`,
    );
  }
  if (rank > MAX_PERMUTE_RANK) {
    throw new ShapeError(
      `permute: rank ${rank} of ${formatShape(x.shape)} exceeds ${MAX_PERMUTE_RANK}`,
    );
  }
  const outputShape = resolved.map((axis) => x.shape[axis]);
  const output = Tensor.empty(outputShape, x.dtype);
  if (x.size > 0) launchPermute(output, x, resolved);
  return record("permute", [x], output, { order: resolved });
}

/** Whether `permute` decodes coordinates per element (the earlier kernel) or per row run. */
export type PermuteMode = "elements" | "rows";

let permuteModeOverride: PermuteMode | undefined;

/** Forces the permute kernel variant, or back to the automatic choice with `undefined`. */
export function setPermuteMode(mode: PermuteMode | undefined): void {
  permuteModeOverride = mode;
}

/**
 * The permutation with size-1 axes dropped and runs of output axes that are consecutive input
 * axes merged: the same data movement at the lowest rank, as output extents and source strides.
 */
export function simplifyPermutation(
  shape: Shape,
  order: readonly number[],
): { extents: number[]; strides: number[] } {
  const inputStrides = stridesOf(shape);
  // Size-1 axes are dropped first, so that the axes around them count as consecutive.
  const rankAmongKept = new Map<number, number>();
  shape.forEach((extent, axis) => {
    if (extent !== 1) rankAmongKept.set(axis, rankAmongKept.size);
  });
  const extents: number[] = [];
  const strides: number[] = [];
  let previous = -2;
  for (const axis of order) {
    const kept = rankAmongKept.get(axis);
    if (kept === undefined) continue;
    if (kept === previous + 1) {
      extents[extents.length - 1] *= shape[axis];
      strides[strides.length - 1] = inputStrides[axis];
    } else {
      extents.push(shape[axis]);
      strides.push(inputStrides[axis]);
    }
    previous = kept;
  }
  if (extents.length === 0) return { extents: [1], strides: [1] };
  return { extents, strides };
}

/**
 * Whether a simplified permutation (output extents, source strides) swaps the last two axes of
 * [batch?, rows, columns] with rows and columns multiples of 4: the `transpose4` kernel's case.
 */
function swapsLastTwoInFours(extents: readonly number[], strides: readonly number[]): boolean {
  const rank = extents.length;
  if (rank !== 2 && rank !== 3) return false;
  const [columns, rows] = extents.slice(-2);
  return columns % 4 === 0 && rows % 4 === 0 && strides[rank - 2] === 1 &&
    strides[rank - 1] === columns && (rank === 2 || strides[0] === rows * columns);
}

/** Elements one invocation of the `rows` permute kernel copies, at most. */
const PERMUTE_CHUNK = 32;

function launchPermute(output: Tensor, x: Tensor, order: readonly number[]): void {
  const mode = permuteModeOverride ?? "rows";
  const { extents, strides } = mode === "rows" ? simplifyPermutation(x.shape, order) : {
    extents: order.map((axis) => x.shape[axis]),
    strides: order.map((axis) => stridesOf(x.shape)[axis]),
  };
  const rank = extents.length;
  const params = new Uint32Array(4 + 2 * MAX_PERMUTE_RANK);
  params[0] = x.size;
  params[1] = rank;
  extents.forEach((extent, d) => {
    params[4 + d] = extent;
    params[4 + MAX_PERMUTE_RANK + d] = strides[d];
  });
  if (mode === "rows" && swapsLastTwoInFours(extents, strides) && x.dtype !== "f16") {
    gpu().dispatch({
      kernel: "shape/permute",
      entryPoint: "transpose4",
      constants: { WORKGROUP_SIZE: 64 },
      buffers: [output.buffer, x.buffer],
      params,
      workgroups: flatWorkgroups(x.size / 16, 64),
    });
    return;
  }
  if (mode === "elements") {
    gpu().dispatch({
      kernel: "shape/permute",
      buffers: [output.buffer, x.buffer],
      params,
      workgroups: flatWorkgroups(x.size),
    });
    return;
  }
  const length = extents[rank - 1];
  const chunk = Math.min(length, PERMUTE_CHUNK);
  const parts = Math.ceil(length / chunk);
  params[2] = chunk;
  params[3] = parts;
  const workgroupSize = 64;
  gpu().dispatch({
    kernel: "shape/permute",
    entryPoint: "rows",
    constants: { WORKGROUP_SIZE: workgroupSize },
    buffers: [output.buffer, x.buffer],
    params,
    workgroups: flatWorkgroups((x.size / length) * parts, workgroupSize),
  });
}

/** Swaps two axes (a permute). */
export function transpose(x: Tensor, axis0: number, axis1: number): Tensor {
  const a = resolveAxis("transpose", axis0, x.rank, x.shape);
  const b = resolveAxis("transpose", axis1, x.rank, x.shape);
  const order = x.shape.map((_, d) => d);
  order[a] = b;
  order[b] = a;
  return permute(x, order);
}

/** Joins tensors of equal shapes (except along `axis`) and dtype along `axis`. */
export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  if (tensors.length === 0) throw new ShapeError("concat: no tensors given");
  const first = tensors[0];
  const resolved = resolveAxis("concat", axis, first.rank, first.shape);
  for (const other of tensors) {
    const same = other.rank === first.rank &&
      other.shape.every((extent, d) => d === resolved || extent === first.shape[d]);
    if (!same || other.dtype !== first.dtype) {
      throw new ShapeError(
        `concat: shapes differ off axis ${resolved}: ${
          tensors.map((t) => `${formatShape(t.shape)} ${t.dtype}`).join(", ")
        }`,
      );
    }
  }
  const extents = tensors.map((t) => t.shape[resolved]);
  const total = extents.reduce((sum, extent) => sum + extent, 0);
  const outputShape = first.shape.map((extent, d) => d === resolved ? total : extent);
  const output = Tensor.empty(outputShape, first.dtype);
  const outer = shapeSize(first.shape.slice(0, resolved));
  const after = shapeSize(first.shape.slice(resolved + 1));
  let offset = 0;
  tensors.forEach((source, index) => {
    const inner = extents[index] * after;
    copyBlocks(output, source, {
      outer,
      inner,
      sourceStride: inner,
      sourceOffset: 0,
      destinationStride: total * after,
      destinationOffset: offset,
    });
    offset += inner;
  });
  return record("concat", tensors, output, { axis: resolved, extents });
}

/** The elements `start <= i < end` of `axis` (a copy). */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const resolved = resolveAxis("slice", axis, x.rank, x.shape);
  const extent = x.shape[resolved];
  if (
    !Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > extent || start > end
  ) {
    throw new ShapeError(
      `slice: range [${start}, ${end}) out of bounds for axis ${resolved} of ${
        formatShape(x.shape)
      } (extent ${extent})`,
    );
  }
  const outputShape = x.shape.map((size, d) => d === resolved ? end - start : size);
  const output = Tensor.empty(outputShape, x.dtype);
  const after = shapeSize(x.shape.slice(resolved + 1));
  copyBlocks(output, x, {
    outer: shapeSize(x.shape.slice(0, resolved)),
    inner: (end - start) * after,
    sourceStride: extent * after,
    sourceOffset: start * after,
    destinationStride: (end - start) * after,
    destinationOffset: 0,
  });
  return record("slice", [x], output, { inputShape: x.shape, axis: resolved, start, end });
}

/** Cuts `x` along `axis` into consecutive pieces of `sizes` (which must add up to the extent). */
export function split(x: Tensor, axis: number, sizes: readonly number[]): Tensor[] {
  const resolved = resolveAxis("split", axis, x.rank, x.shape);
  const extent = x.shape[resolved];
  const total = sizes.reduce((sum, size) => sum + size, 0);
  if (sizes.some((size) => !Number.isInteger(size) || size < 0) || total !== extent) {
    throw new ShapeError(
      `split: sizes [${sizes.join(", ")}] do not add up to extent ${extent} of axis ${resolved} ` +
        `of ${formatShape(x.shape)}`,
    );
  }
  let start = 0;
  return sizes.map((size) => {
    const piece = slice(x, resolved, start, start + size);
    start += size;
    return piece;
  });
}
