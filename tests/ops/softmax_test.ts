import { assertThrows } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import {
  crossEntropy,
  crossEntropyWithLabels,
  logSoftmax,
  softmax,
} from "../../src/ops/softmax/forward.ts";
import { setRowKernelMode } from "../../src/ops/reduction/forward.ts";
import { type Shape, type Tensor, tensor } from "../../src/tensor/tensor.ts";
import { checkOp } from "../helpers/op_check.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import {
  crossEntropyLabelsReference,
  crossEntropyReference,
  softmaxReference,
} from "../../src/ops/softmax/reference.ts";

const SHAPES: Shape[] = [[1], [3], [7, 5], [2, 1, 3], [4, 300], [130, 9]];

/** (Log)softmax of `shape` at `temperature` against float64, gradients on 20 samples. */
function softmaxCase(name: string, shape: Shape, temperature: number, log: boolean) {
  return checkOp({
    name,
    inputs: [{ shape }],
    gpu: (x) => (log ? logSoftmax : softmax)(x, temperature),
    reference: softmaxReference(shape[shape.length - 1], temperature, log),
    outputShape: shape,
    tolerance: { absolute: 2e-6, relative: 1e-4 },
    gradSamples: 20,
    gradTolerance: { absolute: 2e-4, relative: 2e-3 },
  });
}

/** crossEntropy of uniform targets and logits of `shape` against float64, both gradients. */
function crossEntropyCase(name: string, shape: Shape, gradSamples?: number) {
  return checkOp({
    name,
    inputs: [{ shape, draw: "uniform" }, { shape }],
    gpu: crossEntropy,
    reference: crossEntropyReference(shape[shape.length - 1]),
    outputShape: shape.slice(0, -1),
    tolerance: { absolute: 1e-5, relative: 1e-4 },
    gradSamples,
  });
}

/** crossEntropyWithLabels of [rows, classes] logits (labels (7 row + 3) mod classes). */
function labelsCase(name: string, rows: number, classes: number, gradSamples: number) {
  const labels = Array.from({ length: rows }, (_, row) => (row * 7 + 3) % classes);
  return checkOp({
    name,
    inputs: [{ shape: [rows, classes] }, { shape: [rows], values: labels, dtype: "i32" }],
    gpu: crossEntropyWithLabels,
    reference: crossEntropyLabelsReference(classes),
    outputShape: [rows],
    tolerance: { absolute: 2e-5, relative: 1e-4 },
    gradSamples,
  });
}

for (const log of [false, true]) {
  const name = log ? "logSoftmax" : "softmax";
  gpuTest(`softmax: ${name} with temperatures matches float64`, async () => {
    for (const shape of SHAPES) {
      for (const temperature of [1, 0.1, 3.5]) {
        await softmaxCase(
          `${name} ${JSON.stringify(shape)} t=${temperature}`,
          shape,
          temperature,
          log,
        );
      }
    }
  });
}

gpuTest("softmax: rows of 65536 (the DINO head) and large logits stay finite", async () => {
  for (const log of [false, true]) {
    await checkOp({
      name: `${log ? "logSoftmax" : "softmax"} [2, 65536] t=0.04`,
      inputs: [{ shape: [2, 65536] }],
      gpu: (x) => (log ? logSoftmax : softmax)(x, 0.04),
      reference: softmaxReference(65536, 0.04, log),
      outputShape: [2, 65536],
      tolerance: { absolute: 1e-6, relative: 2e-4 },
      gradSamples: 10,
      gradTolerance: { absolute: 1e-3, relative: 2e-3 },
    });
  }
  const values = [1000, 999, -1000, 0, 88, 89];
  await checkOp({
    name: "softmax of large logits",
    inputs: [{ shape: [2, 3], values }],
    gpu: (x) => softmax(x),
    reference: softmaxReference(3, 1, false),
    outputShape: [2, 3],
    noGrad: true,
  });
});

gpuTest("softmax: crossEntropy matches float64 with gradients to both inputs", async () => {
  for (const shape of [[1], [3], [7, 5], [2, 1, 3], [4, 3, 260], [200, 11]] as Shape[]) {
    await crossEntropyCase(`crossEntropy ${JSON.stringify(shape)}`, shape);
  }
});

gpuTest("softmax: the DINO loss chain (teacher softmax, student logSoftmax)", async () => {
  const length = 300;
  const studentTemperature = 0.1;
  const teacherTemperature = 0.04;
  const teacherReference = softmaxReference(length, teacherTemperature, false);
  const studentReference = softmaxReference(length, studentTemperature, true);
  await checkOp({
    name: "crossEntropy(softmax(teacher), logSoftmax(student))",
    inputs: [{ shape: [6, length] }, { shape: [6, length] }],
    gpu: (teacher: Tensor, student: Tensor) =>
      crossEntropy(softmax(teacher, teacherTemperature), logSoftmax(student, studentTemperature)),
    reference: (teacher, student) =>
      crossEntropyReference(length)(teacherReference(teacher), studentReference(student)),
    outputShape: [6],
    tolerance: { absolute: 1e-4, relative: 1e-4 },
    gradTolerance: { absolute: 5e-4, relative: 3e-3 },
  });
});

gpuTest("softmax: crossEntropyWithLabels matches float64, gradient to logits", async () => {
  for (const [rows, classes] of [[1, 1], [1, 3], [7, 5], [40, 1000], [300, 10]]) {
    await labelsCase(`crossEntropyWithLabels [${rows}, ${classes}]`, rows, classes, 30);
  }
});

/** Shapes for the row-kernel checks: 300 rows of 96 (automatic choice: one invocation per row),
 * rows of every length modulo 4, size-1 axes. */
const ROW_MODE_SHAPES: Shape[] = [[300, 96], [7, 5], [2, 1, 3], [260, 34], [5, 1], [3, 7]];

/** Runs `body` once per row-kernel mode (forced to each variant, then automatic). */
async function forEachRowMode(body: (mode: string) => Promise<void>): Promise<void> {
  for (const mode of ["invocation", "workgroup", undefined] as const) {
    setRowKernelMode(mode);
    try {
      await body(mode ?? "auto");
    } finally {
      setRowKernelMode(undefined);
    }
  }
}

gpuTest("softmax: both row kernels of (log)softmax match float64", async () => {
  await forEachRowMode(async (mode) => {
    for (const log of [false, true]) {
      for (const shape of ROW_MODE_SHAPES) {
        const name = `${log ? "logSoftmax" : "softmax"} ${mode} ${JSON.stringify(shape)}`;
        await softmaxCase(name, shape, log ? 0.1 : 2.5, log);
      }
    }
  });
});

gpuTest("softmax: both row kernels of crossEntropy (and with labels) match float64", async () => {
  await forEachRowMode(async (mode) => {
    for (const shape of ROW_MODE_SHAPES) {
      await crossEntropyCase(`crossEntropy ${mode} ${JSON.stringify(shape)}`, shape, 20);
    }
    for (const [rows, classes] of [[300, 96], [7, 5], [260, 34], [4, 1], [3, 7]]) {
      await labelsCase(`crossEntropyWithLabels ${mode} [${rows}, ${classes}]`, rows, classes, 20);
    }
  });
});

gpuTest("softmax: short-row kernels keep large logits finite and label NaN", async () => {
  setRowKernelMode("invocation");
  try {
    await checkOp({
      name: "softmax of large logits, one invocation per row",
      inputs: [{ shape: [2, 3], values: [1000, 999, -1000, 0, 88, 89] }],
      gpu: (x) => softmax(x),
      reference: softmaxReference(3, 1, false),
      outputShape: [2, 3],
      noGrad: true,
    });
    const logits = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const labels = tensor([1, 3], [2], "i32");
    const loss = crossEntropyWithLabels(logits, labels);
    const values = await loss.read();
    if (!(Math.abs(values[0] - (Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 2)) < 1e-5)) {
      throw new Error(`crossEntropyWithLabels row 0: got ${values[0]}`);
    }
    if (!Number.isNaN(values[1])) throw new Error(`label 3 of 3 classes: got ${values[1]}`);
    for (const t of [logits, labels, loss]) t.dispose();
  } finally {
    setRowKernelMode(undefined);
  }
});

gpuTest("softmax: bad shapes, temperatures and labels say what failed", () => {
  const x = tensor(new Float32Array(6), [2, 3]);
  const y = tensor(new Float32Array(6), [3, 2]);
  const labels = tensor([0, 1], [2], "i32");
  const floatLabels = tensor([0, 1], [2]);
  const scalar = tensor([1], []);
  assertThrows(() => softmax(x, 0), ShapeError, "softmax: temperature must be a finite number > 0");
  assertThrows(() => logSoftmax(scalar), ShapeError, "logSoftmax: needs at least one axis");
  assertThrows(
    () => crossEntropy(x, y),
    ShapeError,
    "crossEntropy: shapes differ: target [2, 3] vs logProbabilities [3, 2]",
  );
  assertThrows(
    () => crossEntropyWithLabels(x, floatLabels),
    ShapeError,
    "crossEntropyWithLabels: labels must be i32 [2] for logits [2, 3]",
  );
  assertThrows(
    () => crossEntropyWithLabels(y, labels),
    ShapeError,
    "labels must be i32 [3] for logits [3, 2]",
  );
  for (const t of [x, y, labels, floatLabels, scalar]) t.dispose();
});
