/**
 * Row gathers and scatters: `gatherRows` (embedding lookups, token selection) and `scatterRows`
 * (masked tokens), with the index bookkeeping their gradients need (kernels/shape/gather_*.wgsl;
 * no float atomics, no readback). Recorded as ops of the shape family.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import { flatWorkgroups } from "../../gpu/launch.ts";
import { record } from "../../tensor/tape.ts";
import { formatShape, shapeSize, Tensor } from "../../tensor/tensor.ts";

function checkIndices(op: string, indices: Tensor): void {
  if (indices.dtype !== "i32" || indices.rank !== 1) {
    throw new ShapeError(
      `${op}: indices must be a 1-D i32 tensor, got ${formatShape(indices.shape)} ${indices.dtype}`,
    );
  }
}

/** Fills an i32 [length] tensor from `indices` with an entry point of kernels/shape/gather_index.wgsl. */
export function indexTable(
  entryPoint: "first_of_row" | "last_of_row" | "next_same" | "keep_last",
  indices: Tensor,
  rows: number,
): Tensor {
  const perRow = entryPoint === "first_of_row" || entryPoint === "last_of_row";
  const length = perRow ? rows : indices.size;
  const result = Tensor.empty([length], "i32");
  if (length > 0) {
    gpu().dispatch({
      kernel: "shape/gather_index",
      entryPoint,
      buffers: [result.buffer, indices.buffer],
      params: Uint32Array.of(indices.size, rows),
      workgroups: flatWorkgroups(length),
    });
  }
  return result;
}

/** `x[indices]` along axis 0 with no tape record (also used by the gradient rules). */
export function gatherRowsRaw(x: Tensor, indices: Tensor): Tensor {
  const rows = x.shape[0];
  const columns = shapeSize(x.shape.slice(1));
  const output = Tensor.empty([indices.size, ...x.shape.slice(1)], x.dtype);
  const count = indices.size * columns;
  if (count > 0) {
    gpu().dispatch({
      kernel: "shape/gather_rows",
      buffers: [output.buffer, x.buffer, indices.buffer],
      params: Uint32Array.of(count, columns, rows),
      workgroups: flatWorkgroups(count),
    });
  }
  return output;
}

/**
 * Rows of `x` (shape [R, ...]) picked by `indices` (i32 [n]): the result is [n, ...] with row k
 * equal to `x[indices[k]]`. Indices may repeat; an index outside [0, R) gives a row of zeros
 * (checked on the GPU, without a readback). The gradient scatter-adds into [R, ...].
 */
export function gatherRows(x: Tensor, indices: Tensor): Tensor {
  checkIndices("gatherRows", indices);
  if (x.rank < 1) {
    throw new ShapeError(`gatherRows: x must have rows, got ${formatShape(x.shape)}`);
  }
  const output = gatherRowsRaw(x, indices);
  return record("gatherRows", [x, indices], output, { rows: x.shape[0] }, [indices]);
}

/**
 * Selects per element of a [R, ...] result between `base` and rows of `replacement` through an
 * i32 [R] `origin` table (origin[r] = k takes row k; -1 keeps base). `zeroReplaced` writes 0 for
 * replaced rows instead (the gradient of `base`). No tape record.
 */
export function selectRows(
  base: Tensor,
  replacement: Tensor,
  origin: Tensor,
  zeroReplaced: boolean,
): Tensor {
  const columns = shapeSize(base.shape.slice(1));
  const output = Tensor.empty(base.shape, base.dtype);
  if (base.size > 0) {
    gpu().dispatch({
      kernel: "shape/gather_select",
      buffers: [output.buffer, base.buffer, replacement.buffer, origin.buffer],
      params: Uint32Array.of(base.size, columns, zeroReplaced ? 1 : 0),
      workgroups: flatWorkgroups(base.size),
    });
  }
  return output;
}

/**
 * A new tensor equal to `base` ([R, ...]) with row `indices[k]` replaced by `rows[k]` ([n, ...])
 * for each k (token masking). Where an index repeats, the last k wins; indices outside [0, R)
 * are ignored. Gradients: `base` gets the output gradient with the replaced rows zeroed, `rows`
 * the output gradient's rows at `indices` (zero for writes overridden by a later repeat).
 */
export function scatterRows(base: Tensor, indices: Tensor, rows: Tensor): Tensor {
  checkIndices("scatterRows", indices);
  const expected = [indices.size, ...base.shape.slice(1)];
  if (
    base.rank < 1 || rows.dtype !== base.dtype ||
    formatShape(rows.shape) !== formatShape(expected)
  ) {
    throw new ShapeError(
      `scatterRows: rows must be ${formatShape(expected)} ${base.dtype} for base ${
        formatShape(base.shape)
      } and ${indices.size} indices, got ${formatShape(rows.shape)} ${rows.dtype}`,
    );
  }
  const origin = indexTable("last_of_row", indices, base.shape[0]);
  const output = selectRows(base, rows, origin, false);
  origin.dispose();
  return record("scatterRows", [base, indices, rows], output, {}, [indices]);
}
