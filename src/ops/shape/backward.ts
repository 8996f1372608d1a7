/**
 * Gradient rules of the shape ops (src/ops/shape/forward.ts and ./rows.ts).
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { flatWorkgroups } from "../../gpu/launch.ts";
import { copyBlocks, permute, type ShapeOps, split } from "./forward.ts";
import { gatherRowsRaw, indexTable, selectRows } from "./rows.ts";
import { shapeSize, Tensor, zeros } from "../../tensor/tensor.ts";
import type { GradTable } from "../../tensor/grad_rule.ts";

/** Gradient rules of the shape ops. */
export const shapeGrads: GradTable<keyof ShapeOps> = {
  reshape: (gradOutput, node) => [gradOutput.view(node.attributes.inputShape)],

  permute: (gradOutput, node) => {
    const inverse = new Array<number>(node.attributes.order.length);
    node.attributes.order.forEach((axis, d) => inverse[axis] = d);
    return [permute(gradOutput, inverse)];
  },

  concat: (gradOutput, node) =>
    split(gradOutput, node.attributes.axis, node.attributes.extents).map((piece, index) => {
      if (node.inputs[index].requiresGrad) return piece;
      piece.dispose();
      return undefined;
    }),

  slice: (gradOutput, node) => {
    const { inputShape, axis, start, end } = node.attributes;
    const gradInput = zeros(inputShape);
    const after = shapeSize(inputShape.slice(axis + 1));
    copyBlocks(gradInput, gradOutput, {
      outer: shapeSize(inputShape.slice(0, axis)),
      inner: (end - start) * after,
      sourceStride: (end - start) * after,
      sourceOffset: 0,
      destinationStride: inputShape[axis] * after,
      destinationOffset: start * after,
    });
    return [gradInput];
  },

  gatherRows: (gradOutput, node) => {
    const [indices] = node.saved;
    const rows = node.attributes.rows;
    const first = indexTable("first_of_row", indices, rows);
    const next = indexTable("next_same", indices, rows);
    const gradInput = Tensor.empty([rows, ...gradOutput.shape.slice(1)]);
    const columns = shapeSize(gradOutput.shape.slice(1));
    const count = rows * columns;
    if (count > 0) {
      gpu().dispatch({
        kernel: "shape/gather_scatter_add",
        buffers: [gradInput.buffer, gradOutput.buffer, first.buffer, next.buffer],
        params: Uint32Array.of(count, columns, indices.size),
        workgroups: flatWorkgroups(count),
      });
    }
    first.dispose();
    next.dispose();
    return [gradInput, undefined];
  },

  scatterRows: (gradOutput, node) => {
    const [indices] = node.saved;
    const [base, , rows] = node.inputs;
    let gradBase: Tensor | undefined;
    let gradRows: Tensor | undefined;
    if (base.requiresGrad) {
      const origin = indexTable("last_of_row", indices, base.shape[0]);
      gradBase = selectRows(gradOutput, gradOutput, origin, true);
      origin.dispose();
    }
    if (rows.requiresGrad) {
      const surviving = indexTable("keep_last", indices, base.shape[0]);
      gradRows = gatherRowsRaw(gradOutput, surviving);
      surviving.dispose();
    }
    return [gradBase, undefined, gradRows];
  },
};
