/**
 * The KoLeo op (Sablayrolles et al., DINOv2's `KoLeoLoss` before its mean): per row of x, the
 * nearest other row by inner product and `-log(||x_i - x_nn(i) + pdistEps|| + logEps)`. Its
 * gradient rule (neighbours held fixed, as autograd does through torch.max's indices) is in
 * src/ops/koleo/backward.ts.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import { flatWorkgroups } from "../../gpu/launch.ts";
import { record } from "../../tensor/tape.ts";
import { formatShape, Tensor } from "../../tensor/tensor.ts";
import { requireF32 } from "../elementwise/forward.ts";

/** Attributes of the KoLeo op, keyed by op name. */
export interface KoleoOps {
  /** Per-row KoLeo terms; saved: `[x, distances, nearest]`. */
  koleoTerms: { pdistEps: number; logEps: number };
}

function koleoParams(rows: number, dim: number, pdistEps: number, logEps: number): Uint32Array {
  const words = new Uint32Array([rows, dim, 0, 0]);
  const floats = new Float32Array(words.buffer);
  floats[2] = pdistEps;
  floats[3] = logEps;
  return words;
}

/**
 * KoLeo terms [rows] of x [rows, dim] (rows >= 2): `-log(d_i + logEps)` with d_i the distance
 * (`|| x_i - x_j + pdistEps ||`, torch's PairwiseDistance) to the row j != i of largest inner
 * product (the nearest neighbour when rows are L2-normalised). DINOv2 uses eps 1e-8 for both.
 */
export function koleoTerms(x: Tensor, pdistEps = 1e-8, logEps = 1e-8): Tensor {
  requireF32("koleoTerms", x);
  if (x.rank !== 2 || x.shape[0] < 2 || x.shape[1] < 1) {
    throw new ShapeError(
      `koleoTerms: x must be [rows, dim] with rows >= 2 and dim >= 1, got ${formatShape(x.shape)}`,
    );
  }
  const [rows, dim] = x.shape;
  const values = Tensor.empty([rows]);
  const distances = Tensor.empty([rows]);
  const nearest = Tensor.empty([rows], "i32");
  gpu().dispatch({
    kernel: "koleo/forward",
    constants: { WORKGROUP_SIZE: 64 },
    buffers: [x.buffer, values.buffer, distances.buffer, nearest.buffer],
    params: koleoParams(rows, dim, pdistEps, logEps),
    workgroups: flatWorkgroups(rows, 64),
  });
  record("koleoTerms", [x], values, { pdistEps, logEps }, [x, distances, nearest]);
  distances.dispose();
  nearest.dispose();
  return values;
}

/** Gradient of `koleoTerms` with respect to x (used by its rule). */
export function koleoBackward(
  x: Tensor,
  distances: Tensor,
  nearest: Tensor,
  gradOut: Tensor,
  pdistEps: number,
  logEps: number,
): Tensor {
  const [rows, dim] = x.shape;
  const gradX = Tensor.empty(x.shape);
  gpu().dispatch({
    kernel: "koleo/backward",
    buffers: [x.buffer, gradOut.buffer, distances.buffer, nearest.buffer, gradX.buffer],
    params: koleoParams(rows, dim, pdistEps, logEps),
    workgroups: flatWorkgroups(rows * dim),
  });
  return gradX;
}
