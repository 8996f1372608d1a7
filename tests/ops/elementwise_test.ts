import { assertEquals, assertThrows } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import {
  add,
  addScalar,
  broadcastTo,
  div,
  gelu,
  mul,
  scale,
  silu,
  sub,
} from "../../src/ops/elementwise/forward.ts";
import { sumToShape } from "../../src/ops/reduction/forward.ts";
import { type Shape, type Tensor, tensor } from "../../src/tensor/tensor.ts";
import { checkOp } from "../helpers/op_check.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import {
  binaryReference,
  broadcastShape,
  geluReference,
  siluReference,
} from "../../src/ops/elementwise/reference.ts";

const BINARY: [string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => number][] = [
  ["add", add, (x, y) => x + y],
  ["sub", sub, (x, y) => x - y],
  ["mul", mul, (x, y) => x * y],
  ["div", div, (x, y) => x / y],
];

const SHAPE_PAIRS: [Shape, Shape][] = [
  [[1], [1]],
  [[3], [3]],
  [[7, 5], [7, 5]],
  [[7, 5], [5]],
  [[2, 1, 3], [4, 1]],
  [[1, 3], [3]],
  [[3, 1], [1, 4]],
  [[1], [2, 3, 4]],
  [[2, 3, 1, 5], [3, 4, 1]],
  [[64, 33], [64, 1]],
  // same shapes: 16 elements per invocation (vec4 kernel), with and without a tail
  [[4099], [4099]],
  [[33, 32], [33, 32]],
  [[5, 1, 3], [5, 1, 3]],
];

for (const [name, op, f] of BINARY) {
  gpuTest(`elementwise: ${name} with broadcasting matches float64`, async () => {
    for (const [aShape, bShape] of SHAPE_PAIRS) {
      await checkOp({
        name: `${name} ${JSON.stringify(aShape)} ${JSON.stringify(bShape)}`,
        inputs: [
          { shape: aShape },
          // keep divisors away from 0 so finite differences stay accurate
          { shape: bShape, draw: name === "div" ? "positive" : "normal" },
        ],
        gpu: op,
        reference: binaryReference(aShape, bShape, f),
        outputShape: broadcastShape(aShape, bShape),
      });
    }
  });
}

gpuTest("elementwise: a large broadcast add", async () => {
  await checkOp({
    name: "add [256, 197, 3] + [197, 1]",
    inputs: [{ shape: [256, 197, 3] }, { shape: [197, 1] }],
    gpu: add,
    reference: binaryReference([256, 197, 3], [197, 1], (x, y) => x + y),
    outputShape: [256, 197, 3],
    gradTolerance: { absolute: 1e-3, relative: 1e-3 },
  });
});

const UNARY: [string, (x: Tensor) => Tensor, (x: number) => number][] = [
  ["scale", (x) => scale(x, -2.5), (x) => -2.5 * x],
  ["addScalar", (x) => addScalar(x, 0.75), (x) => x + 0.75],
  ["gelu", gelu, geluReference],
  ["silu", silu, siluReference],
];

for (const [name, op, f] of UNARY) {
  gpuTest(`elementwise: ${name} matches float64`, async () => {
    for (const shape of [[1], [3], [7, 5], [2, 1, 3], [64, 257]] as Shape[]) {
      await checkOp({
        name: `${name} ${JSON.stringify(shape)}`,
        inputs: [{ shape }],
        gpu: op,
        reference: (x) => x.map(f),
        outputShape: shape,
        tolerance: { absolute: 2e-6, relative: 1e-5 },
      });
    }
  });
}

gpuTest("elementwise: gelu and silu far in the tails", async () => {
  const values = [-30, -12, -6, -3, -1e-3, 0, 1e-3, 3, 6, 12, 30];
  await checkOp({
    name: "gelu tails",
    inputs: [{ shape: [values.length], values }],
    gpu: gelu,
    reference: (x) => x.map(geluReference),
    outputShape: [values.length],
    tolerance: { absolute: 1e-6, relative: 1e-5 },
    gradSamples: values.length,
    gradTolerance: { absolute: 1e-4, relative: 1e-3 },
  });
  await checkOp({
    name: "silu tails",
    inputs: [{ shape: [values.length], values }],
    gpu: silu,
    reference: (x) => x.map((v) => v / (1 + Math.exp(-v))),
    outputShape: [values.length],
    tolerance: { absolute: 1e-6, relative: 1e-5 },
    gradSamples: values.length,
  });
});

gpuTest("elementwise: incompatible shapes name the op and both shapes", () => {
  const a = tensor(new Float32Array(6), [2, 3]);
  const b = tensor(new Float32Array(4), [4]);
  const labels = tensor([1, 2], [2], "i32");
  assertThrows(
    () => add(a, b),
    ShapeError,
    "add: shapes cannot be broadcast: a [2, 3] and b [4] (axis -1 has 3 vs 4)",
  );
  assertThrows(() => div(b, a), ShapeError, "div: shapes cannot be broadcast: a [4] and b [2, 3]");
  assertThrows(() => mul(a, labels), ShapeError, "mul: b must be f32");
  assertThrows(
    () => broadcastTo(a, [3]),
    ShapeError,
    "broadcastTo: cannot broadcast [2, 3] to [3]",
  );
  for (const t of [a, b, labels]) t.dispose();
});

gpuTest("elementwise: sumToShape undoes broadcasting", async () => {
  const gradValues = Array.from({ length: 24 }, (_, i) => i);
  const grad = tensor(gradValues, [2, 3, 4]);
  const cases: [Shape, number[]][] = [
    [[4], [60, 66, 72, 78]],
    [[3, 1], [60, 92, 124]],
    [[2, 1, 1], [66, 210]],
    [[1, 3, 4], gradValues.slice(0, 12).map((_, i) => gradValues[i] + gradValues[i + 12])],
  ];
  for (const [shape, expected] of cases) {
    const reduced = sumToShape(grad, shape);
    assertEquals(reduced.shape, shape);
    assertEquals(Array.from(await reduced.read()), expected);
    reduced.dispose();
  }
  assertEquals(sumToShape(grad, [2, 3, 4]), grad);
  assertThrows(() => sumToShape(grad, [5]), ShapeError, "sumToShape");
  grad.dispose();
});
