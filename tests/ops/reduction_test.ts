import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { backward } from "../../src/tensor/backward.ts";
import { mul } from "../../src/ops/elementwise/forward.ts";
import {
  l2Normalize,
  max,
  mean,
  meanAll,
  setRowKernelMode,
  sum,
  sumAll,
} from "../../src/ops/reduction/forward.ts";
import { type Shape, type Tensor, tensor } from "../../src/tensor/tensor.ts";
import { assertClose, checkOp } from "../helpers/op_check.ts";
import { sumBlocks } from "../../src/ops/matmul/forward.ts";
import { gpuTest, watchKernels } from "../helpers/gpu_test.ts";
import {
  l2NormalizeReference,
  reducedShape,
  reduceReference,
} from "../../src/ops/reduction/reference.ts";

const CASES: [Shape, number][] = [
  [[1], 0],
  [[3], 0],
  [[3], -1],
  [[7, 5], 0],
  [[7, 5], 1],
  [[2, 1, 3], 1],
  [[4, 9, 3], 1],
  [[4, 9, 3], 0],
  [[5, 130], 1], // long enough for the workgroup kernel
  [[300, 6], 0], // workgroup kernel with inner > 1
  [[2, 100, 3], 1],
  [[128, 17], 1], // larger batch
];

const FAMILY: {
  name: string;
  op: (x: Tensor, axis: number, keepDims?: boolean) => Tensor;
  reference: (shape: Shape, axis: number) => (x: Float64Array) => Float64Array;
}[] = [
  {
    name: "sum",
    op: sum,
    reference: (shape, axis) => reduceReference(shape, axis, (a, v) => a + v, 0),
  },
  {
    name: "mean",
    op: mean,
    reference: (shape, axis) =>
      reduceReference(shape, axis, (a, v) => a + v, 0, (value, length) => value / length),
  },
  {
    name: "max",
    op: max,
    reference: (shape, axis) => reduceReference(shape, axis, (a, v) => Math.max(a, v), -Infinity),
  },
];

for (const { name, op, reference } of FAMILY) {
  gpuTest(`reduction: ${name} over axis 0, middle and last matches float64`, async () => {
    for (const [shape, axis] of CASES) {
      const resolved = axis < 0 ? axis + shape.length : axis;
      for (const keepDims of [false, true]) {
        await checkOp({
          name: `${name} ${JSON.stringify(shape)} axis ${axis} keepDims ${keepDims}`,
          inputs: [{ shape }],
          gpu: (x) => op(x, axis, keepDims),
          reference: reference(shape, resolved),
          outputShape: reducedShape(shape, resolved, keepDims),
          gradSamples: 20,
        });
      }
    }
  });
}

gpuTest("reduction: max sends the gradient to the first of tied maxima", async () => {
  for (const length of [5, 300]) {
    const values = new Float32Array(length).fill(-1);
    values[2] = 4;
    values[length - 1] = 4;
    const x = tensor(values, [1, length]);
    x.requiresGrad = true;
    const y = max(x, 1);
    assertEquals(Array.from(await y.read()), [4]);
    backward(y, tensor([2], [1]));
    const grad = await x.grad!.read();
    const expected = new Float32Array(length);
    expected[2] = 2;
    assertEquals(Array.from(grad), Array.from(expected));
    x.grad!.dispose();
    x.dispose();
    y.dispose();
  }
});

gpuTest("reduction: sum of a 65536-long row and of a long axis 0", async () => {
  await checkOp({
    name: "sum [2, 65536] axis 1",
    inputs: [{ shape: [2, 65536], draw: "uniform" }],
    gpu: (x) => sum(x, 1),
    reference: reduceReference([2, 65536], 1, (a, v) => a + v, 0),
    outputShape: [2],
    tolerance: { absolute: 1e-3, relative: 1e-4 },
    gradSamples: 20,
  });
  await checkOp({
    name: "max [65536] axis 0",
    inputs: [{ shape: [65536] }],
    gpu: (x) => max(x, 0),
    reference: reduceReference([65536], 0, (a, v) => Math.max(a, v), -Infinity),
    outputShape: [],
    gradSamples: 20,
  });
  await checkOp({
    name: "mean [3000, 7] axis 0",
    inputs: [{ shape: [3000, 7] }],
    gpu: (x) => mean(x, 0),
    reference: reduceReference([3000, 7], 0, (a, v) => a + v, 0, (v, n) => v / n),
    outputShape: [7],
    gradSamples: 20,
  });
});

gpuTest("reduction: sumAll and meanAll give shape [] and read as one number", async () => {
  for (const shape of [[1], [3], [7, 5], [2, 1, 3], [40, 70]] as Shape[]) {
    await checkOp({
      name: `sumAll ${JSON.stringify(shape)}`,
      inputs: [{ shape }],
      gpu: sumAll,
      reference: (x) => Float64Array.of(x.reduce((a, v) => a + v, 0)),
      outputShape: [],
      tolerance: { absolute: 1e-4, relative: 1e-5 },
      gradSamples: 10,
    });
    await checkOp({
      name: `meanAll ${JSON.stringify(shape)}`,
      inputs: [{ shape }],
      gpu: meanAll,
      reference: (x) => Float64Array.of(x.reduce((a, v) => a + v, 0) / x.length),
      outputShape: [],
      gradSamples: 10,
    });
  }
  const x = tensor([1, 2, 3, 4.5], [2, 2]);
  x.requiresGrad = true;
  const total = sumAll(x);
  assertEquals(await total.item(), 10.5);
  backward(total);
  assertEquals(Array.from(await x.grad!.read()), [1, 1, 1, 1]);
  x.grad!.dispose();
  x.dispose();
  total.dispose();
});

gpuTest("reduction: l2Normalize over the last axis matches F.normalize", async () => {
  for (const shape of [[1], [3], [7, 5], [2, 1, 3], [64, 300]] as Shape[]) {
    await checkOp({
      name: `l2Normalize ${JSON.stringify(shape)}`,
      inputs: [{ shape }],
      gpu: (x) => l2Normalize(x),
      reference: l2NormalizeReference(shape[shape.length - 1], 1e-12),
      outputShape: shape,
    });
  }
  // rows whose norm is below eps are divided by eps
  await checkOp({
    name: "l2Normalize below eps",
    inputs: [{ shape: [2, 3], values: [1e-3, -2e-3, 1e-3, 3, 4, 0] }],
    gpu: (x) => l2Normalize(x, 0.5),
    reference: l2NormalizeReference(3, 0.5),
    outputShape: [2, 3],
    gradSamples: 6,
  });
});

gpuTest("reduction: both row kernels of l2Normalize match float64", async () => {
  // 300 rows of 96: the automatic choice takes one invocation per row; each mode is also forced.
  for (const mode of ["invocation", "workgroup", undefined] as const) {
    setRowKernelMode(mode);
    try {
      for (const shape of [[300, 96], [7, 5], [2, 1, 3], [260, 34], [5, 1], [3, 7]] as Shape[]) {
        await checkOp({
          name: `l2Normalize ${mode ?? "auto"} ${JSON.stringify(shape)}`,
          inputs: [{ shape }],
          gpu: (x) => l2Normalize(x),
          reference: l2NormalizeReference(shape[shape.length - 1], 1e-12),
          outputShape: shape,
          gradSamples: 20,
        });
      }
      await checkOp({
        name: `l2Normalize ${mode ?? "auto"} below eps`,
        inputs: [{ shape: [2, 3], values: [1e-3, -2e-3, 1e-3, 3, 4, 0] }],
        gpu: (x) => l2Normalize(x, 0.5),
        reference: l2NormalizeReference(3, 0.5),
        outputShape: [2, 3],
        gradSamples: 6,
      });
    } finally {
      setRowKernelMode(undefined);
    }
  }
});

gpuTest("reduction: a chain of ops backpropagates through sum and mean", async () => {
  const x = tensor([1, -2, 3, 4, 5, -6], [2, 3]);
  x.requiresGrad = true;
  const squared = mul(x, x);
  const rows = sum(squared, 1);
  const loss = mean(rows, 0);
  assertClose(await loss.read(), [(1 + 4 + 9 + 16 + 25 + 36) / 2], "loss");
  backward(loss);
  assertClose(await x.grad!.read(), [1, -2, 3, 4, 5, -6], "grad = 2x / 2");
  for (const t of [x.grad!, x, squared, rows, loss]) t.dispose();
});

gpuTest("reduction: bad axes and ranks say what failed", () => {
  const x = tensor(new Float32Array(6), [2, 3]);
  const scalar = sumAll(x);
  const labels = tensor([1], [1], "i32");
  assertThrows(() => sum(x, 2), ShapeError, "sum: axis 2 is out of range for shape [2, 3]");
  assertThrows(() => mean(x, -3), ShapeError, "mean: axis -3 is out of range");
  assertThrows(() => max(x, 0.5), ShapeError, "max: axis 0.5 is out of range");
  assertThrows(
    () => max(tensor([], [2, 0]), 1),
    ShapeError,
    "max: axis 1 of shape [2, 0] is empty",
  );
  assertThrows(() => l2Normalize(scalar), ShapeError, "l2Normalize: needs at least one axis");
  assertThrows(() => sum(labels, 0), ShapeError, "sum: x must be f32");
  for (const t of [x, scalar, labels]) t.dispose();
});

gpuTest("reduction: strided sums in two passes (many rows, few columns) and row sums", async () => {
  for (
    const [shape, axis] of [
      [[6336, 9], 0],
      [[3, 500, 5], 1],
      [[97, 2, 33], 0],
      [[300, 70], 1],
      [[6, 40, 8], 1], // inner 8: four columns per invocation
    ] as [Shape, number][]
  ) {
    await checkOp({
      name: `sum ${JSON.stringify(shape)} axis ${axis}`,
      inputs: [{ shape }],
      gpu: (x) => sum(x, axis),
      reference: reduceReference(shape, axis, (a, v) => a + v, 0),
      outputShape: reducedShape(shape, axis, false),
      tolerance: { absolute: 1e-4, relative: 1e-4 },
      gradSamples: 20,
    });
  }
});

gpuTest("reduction: matmul's column sums (bias gradient) in one and two passes", async () => {
  // columns in fours (64, 12) go four per invocation as vec4s, the others one per invocation
  const watch = watchKernels();
  for (const [rows, columns] of [[6336, 9], [70, 3], [1, 5], [33, 130], [4352, 64], [33, 12]]) {
    watch.entryPoints.length = 0;
    const values = new Float32Array(rows * columns).map((_, i) => Math.sin(i * 1.7) * 2);
    const x = tensor(values, [rows, columns]);
    const expected = new Float64Array(columns);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) expected[c] += values[r * columns + c];
    }
    for (const chunks of [undefined, 1, 7]) {
      const result = sumBlocks(x, rows, [columns], chunks);
      assertClose(await result.read(), expected, `column sums ${rows}x${columns} ${chunks}`, {
        absolute: 1e-3,
        relative: 1e-4,
      });
      result.dispose();
    }
    const entry = `reduction/sum:${columns % 4 === 0 ? "columns_vec4" : "columns"}`;
    assertTrue(watch.entryPoints.every((name) => name === entry), watch.entryPoints.join(", "));
    x.dispose();
  }
  watch.stop();
});
