/**
 * Sinkhorn-Knopp normalisation of teacher outputs (DINOv2's `sinkhorn_knopp_teacher`, used in
 * place of centering): Q = exp(logits / temperature)^T over [prototypes, samples], normalised to
 * total 1, then `iterations` times: each prototype's row to 1 / K, each sample's column to 1 / B;
 * finally times B, so each sample's distribution sums to 1. Computed on the GPU in the
 * [samples, prototypes] layout (no transpose): a column kernel per prototype and a row kernel per
 * sample. No gradient (the teacher's targets).
 * @module
 */
import { gpu } from "../gpu/device.ts";
import { ShapeError } from "../gpu/errors.ts";
import { flatWorkgroups } from "../gpu/launch.ts";
import { requireF32 } from "../ops/elementwise/forward.ts";
import { rowWorkgroupSize } from "../ops/reduction/forward.ts";
import { formatShape, Tensor } from "../tensor/tensor.ts";

/**
 * Teacher targets [B, K] from `logits` [B, K] at `temperature` by `iterations` Sinkhorn-Knopp
 * steps (DINOv2: 3); each row of the result sums to 1.
 */
export function sinkhornKnopp(logits: Tensor, temperature: number, iterations = 3): Tensor {
  requireF32("sinkhornKnopp", logits, "logits");
  if (logits.rank !== 2 || logits.shape[0] === 0 || logits.shape[1] === 0) {
    throw new ShapeError(
      `sinkhornKnopp: logits must be [samples, prototypes] with both > 0, got ${
        formatShape(logits.shape)
      }`,
    );
  }
  if (!Number.isFinite(temperature) || temperature <= 0) {
    throw new ShapeError(
      `sinkhornKnopp: temperature must be a finite number > 0, got ${temperature}`,
    );
  }
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new ShapeError(
      `sinkhornKnopp: iterations must be a whole number >= 1, got ${iterations}`,
    );
  }
  const [rows, cols] = logits.shape;
  const q = Tensor.empty([rows, cols]);
  const columnWords = new Uint32Array([rows, cols, 0, 0]);
  new Float32Array(columnWords.buffer, 8, 1)[0] = 1 / temperature;
  const rowWords = (divisor: number) => {
    const words = new Uint32Array([rows, cols, 0, 0]);
    new Float32Array(words.buffer, 8, 1)[0] = divisor;
    return words;
  };
  const rowSize = rowWorkgroupSize(cols);
  for (let iteration = 0; iteration < iterations; iteration++) {
    gpu().dispatch({
      kernel: "train/sinkhorn_columns",
      constants: { WORKGROUP_SIZE: 64, FIRST: iteration === 0 ? 1 : 0 },
      buffers: [logits.buffer, q.buffer],
      params: columnWords,
      workgroups: flatWorkgroups(cols, 64),
    });
    gpu().dispatch({
      kernel: "train/sinkhorn_rows",
      constants: { WORKGROUP_SIZE: rowSize },
      buffers: [q.buffer],
      params: rowWords(iteration === iterations - 1 ? 1 : rows),
      workgroups: flatWorkgroups(rows, 1),
    });
  }
  return q;
}

/** Entropy `-sum p log p` of each row of probabilities `p` [B, K], shape [B] (a monitor). */
export function rowEntropy(p: Tensor): Tensor {
  requireF32("rowEntropy", p, "p");
  if (p.rank !== 2) {
    throw new ShapeError(`rowEntropy: p must be [rows, cols], got ${formatShape(p.shape)}`);
  }
  const [rows, cols] = p.shape;
  const entropy = Tensor.empty([rows]);
  gpu().dispatch({
    kernel: "train/sinkhorn_entropy",
    constants: { WORKGROUP_SIZE: rowWorkgroupSize(cols) },
    buffers: [p.buffer, entropy.buffer],
    params: new Uint32Array([rows, cols]),
    workgroups: flatWorkgroups(rows, 1),
  });
  return entropy;
}
