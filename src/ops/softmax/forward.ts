/**
 * Softmax ops (forward): `softmax` and `logSoftmax` with a temperature over the last axis, the
 * soft-target `crossEntropy` of DINO's loss, and `crossEntropyWithLabels` for the linear probe.
 * Their gradient rules are in src/ops/softmax/backward.ts.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import { record } from "../../tensor/tape.ts";
import { formatShape, Tensor } from "../../tensor/tensor.ts";
import { requireF32 } from "../elementwise/forward.ts";
import { lastAxisRows, rowLaunch } from "../reduction/forward.ts";

/** Attributes of the softmax ops, keyed by op name. */
export interface SoftmaxOps {
  /** Softmax of `x / temperature` over the last axis; saved: `[output]`. */
  softmax: { temperature: number };
  /** Log-softmax of `x / temperature` over the last axis; saved: `[output]`. */
  logSoftmax: { temperature: number };
  /** `-sum(target * logProbabilities)` over the last axis; saved: `[target, logProbabilities]`. */
  crossEntropy: Record<string, never>;
  /** `-logSoftmax(logits)[label]` per row; saved: `[logits, labels, logSumExp]`. */
  crossEntropyWithLabels: Record<string, never>;
}

function validateTemperature(op: string, temperature: number): void {
  if (!Number.isFinite(temperature) || temperature <= 0) {
    throw new ShapeError(`${op}: temperature must be a finite number > 0, got ${temperature}`);
  }
}

function launchSoftmax(log: boolean, x: Tensor, temperature: number): Tensor {
  const op = log ? "logSoftmax" : "softmax";
  requireF32(op, x);
  validateTemperature(op, temperature);
  const { rows, length } = lastAxisRows(op, x);
  const output = Tensor.empty(x.shape);
  const words = new Uint32Array([rows, length, 0, 0]);
  new Float32Array(words.buffer, 8, 1)[0] = 1 / temperature;
  gpu().dispatch({
    kernel: "softmax/softmax",
    ...rowLaunch(rows, length, "main", { LOG: log ? 1 : 0 }),
    buffers: [x.buffer, output.buffer],
    params: words,
  });
  return output;
}

/** Softmax of `x / temperature` over the last axis (numerically stable). */
export function softmax(x: Tensor, temperature = 1): Tensor {
  const output = launchSoftmax(false, x, temperature);
  return record("softmax", [x], output, { temperature }, [output]);
}

/** Log-softmax of `x / temperature` over the last axis (numerically stable). */
export function logSoftmax(x: Tensor, temperature = 1): Tensor {
  const output = launchSoftmax(true, x, temperature);
  return record("logSoftmax", [x], output, { temperature }, [output]);
}

/**
 * Soft-target cross-entropy `-sum(target * logProbabilities)` over the last axis; the output
 * has the leading axes' shape. DINO's loss: `target` is the teacher's softmax and
 * `logProbabilities` the student's logSoftmax.
 */
export function crossEntropy(target: Tensor, logProbabilities: Tensor): Tensor {
  requireF32("crossEntropy", target, "target");
  requireF32("crossEntropy", logProbabilities, "logProbabilities");
  const sameShape = target.rank === logProbabilities.rank &&
    target.shape.every((extent, axis) => extent === logProbabilities.shape[axis]);
  if (!sameShape) {
    throw new ShapeError(
      `crossEntropy: shapes differ: target ${formatShape(target.shape)} vs logProbabilities ` +
        formatShape(logProbabilities.shape),
    );
  }
  const { rows, length } = lastAxisRows("crossEntropy", target);
  const output = Tensor.empty(target.shape.slice(0, -1));
  gpu().dispatch({
    kernel: "softmax/cross_entropy",
    ...rowLaunch(rows, length),
    buffers: [target.buffer, logProbabilities.buffer, output.buffer],
    params: new Uint32Array([rows, length]),
  });
  return record(
    "crossEntropy",
    [target, logProbabilities],
    output,
    {},
    [target, logProbabilities],
  );
}

/**
 * Cross-entropy of `logits` [rows, classes] against integer `labels` [rows] (i32):
 * `-logSoftmax(logits)[row, label]` per row, shape [rows]. A label outside [0, classes) gives NaN.
 * The gradient flows to the logits only.
 */
export function crossEntropyWithLabels(logits: Tensor, labels: Tensor): Tensor {
  requireF32("crossEntropyWithLabels", logits, "logits");
  if (logits.rank !== 2) {
    throw new ShapeError(
      `crossEntropyWithLabels: logits must be [rows, classes], got ${formatShape(logits.shape)}`,
    );
  }
  const [rows, classes] = logits.shape;
  if (labels.dtype !== "i32" || labels.rank !== 1 || labels.shape[0] !== rows) {
    throw new ShapeError(
      `crossEntropyWithLabels: labels must be i32 [${rows}] for logits ` +
        `${formatShape(logits.shape)}, got ${labels.describe()}`,
    );
  }
  if (classes === 0) {
    throw new ShapeError(
      `crossEntropyWithLabels: logits ${formatShape(logits.shape)} has no classes`,
    );
  }
  const output = Tensor.empty([rows]);
  const logSumExp = Tensor.empty([rows]);
  gpu().dispatch({
    kernel: "softmax/cross_entropy_labels",
    ...rowLaunch(rows, classes),
    buffers: [logits.buffer, labels.buffer, output.buffer, logSumExp.buffer],
    params: new Uint32Array([rows, classes]),
  });
  record("crossEntropyWithLabels", [logits, labels], output, {}, [logits, labels, logSumExp]);
  logSumExp.dispose();
  return output;
}
