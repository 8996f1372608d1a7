/**
 * Collapse monitors of DINO's teacher (kernels/eval/collapse_monitor.wgsl, one dispatch, no readback):
 * the mean per-sample entropy of the teacher's probabilities (near 0: every sample picks one
 * prototype, i.e. sharpening won), the entropy of the batch-mean distribution (near 0: every
 * sample picks the same one, i.e. collapse), and KL(teacher || student).
 * @module
 */
import { gpu } from "../gpu/device.ts";
import { ShapeError } from "../gpu/errors.ts";
import { formatShape, Tensor } from "../tensor/tensor.ts";
import { LAVAPIPE_LOOP_LIMIT } from "../gpu/launch.ts";

/** Workgroup size of the collapse monitor kernel (a power of two). */
const MONITOR_WORKGROUP_SIZE = 256;

/**
 * Classes one monitor dispatch may cover for `rows` rows so that no invocation passes lavapipe's
 * loop limit: each class costs a thread rows + 2 loop passes (the row loop and its exit pass, the
 * class loop), plus the class loop's exit pass and the tree sum. 0 when one class is too many.
 */
export function monitorClassesPerDispatch(rows: number): number {
  return MONITOR_WORKGROUP_SIZE * Math.max(0, Math.floor(MONITOR_BUDGET / (rows + 2)));
}

/** Loop passes one monitor invocation may spend on classes (the rest: margin, tree, exit). */
const MONITOR_BUDGET = LAVAPIPE_LOOP_LIMIT - 64 - (Math.log2(MONITOR_WORKGROUP_SIZE) + 1) - 1;

/** The monitors as one-element f32 tensors (the caller disposes them). */
export interface CollapseMonitors {
  /** Mean over rows of `-sum p log p` (nats). */
  meanEntropy: Tensor;
  /** `-sum m log m` of the row-mean distribution m (nats). */
  batchEntropy: Tensor;
  /** Mean over rows of `sum p (log p - log q)`; 0 when no student was given. */
  kl: Tensor;
}

/**
 * Computes the monitors from teacher probabilities [B, K] and, optionally, student
 * log-probabilities [B, K] (natural log), with `0 log 0 = 0`.
 */
export function collapseMonitors(
  teacherProbabilities: Tensor,
  studentLogProbabilities?: Tensor,
): CollapseMonitors {
  const teacher = teacherProbabilities;
  if (teacher.rank !== 2 || teacher.dtype !== "f32") {
    throw new ShapeError(`collapseMonitors: teacher must be f32 [B, K], got ${teacher.describe()}`);
  }
  const student = studentLogProbabilities;
  if (
    student &&
    (student.dtype !== "f32" || student.rank !== 2 || student.shape[0] !== teacher.shape[0] ||
      student.shape[1] !== teacher.shape[1])
  ) {
    throw new ShapeError(
      `collapseMonitors: shapes differ: teacher ${formatShape(teacher.shape)} vs student ` +
        `${formatShape(student.shape)}`,
    );
  }
  const [rows, classes] = teacher.shape;
  const perDispatch = monitorClassesPerDispatch(rows);
  if (perDispatch === 0) {
    throw new ShapeError(
      `collapseMonitors: ${rows} rows are more than one dispatch can read on lavapipe ` +
        `(at most ${MONITOR_BUDGET - 2})`,
    );
  }
  const result: CollapseMonitors = {
    meanEntropy: Tensor.empty([1]),
    batchEntropy: Tensor.empty([1]),
    kl: Tensor.empty([1]),
  };
  let begin = 0;
  do {
    const end = Math.min(classes, begin + perDispatch);
    gpu().dispatch({
      kernel: "eval/collapse_monitor",
      constants: { WORKGROUP_SIZE: MONITOR_WORKGROUP_SIZE },
      buffers: [
        teacher.buffer,
        (student ?? teacher).buffer,
        result.meanEntropy.buffer,
        result.batchEntropy.buffer,
        result.kl.buffer,
      ],
      params: new Uint32Array([rows, classes, student ? 1 : 0, begin, end, begin > 0 ? 1 : 0]),
      workgroups: [1],
    });
    begin = end;
  } while (begin < classes);
  return result;
}

/**
 * A warning when an entropy (nats) over `classes` outputs signals collapse: below 0.1 (one
 * output dominates) or above 0.95 log(classes) (uniform output). Undefined when healthy.
 */
export function collapseWarning(entropy: number, classes: number): string | undefined {
  const ceiling = 0.95 * Math.log(classes);
  if (!Number.isFinite(entropy)) return `teacher entropy is ${entropy}`;
  if (entropy < 0.1) {
    return `teacher entropy ${entropy.toFixed(4)} < 0.1: collapse to one output dimension`;
  }
  if (entropy > ceiling) {
    return `teacher entropy ${entropy.toFixed(4)} > 0.95 log(${classes}) = ${
      ceiling.toFixed(4)
    }: collapse to the uniform distribution`;
  }
  return undefined;
}
