import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import {
  activationBackward,
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
import { type Shape, Tensor, tensor } from "../../src/tensor/tensor.ts";
import { checkOp } from "../helpers/op_check.ts";
import { gpuTest, watchKernels } from "../helpers/gpu_test.ts";
import {
  binaryReference,
  broadcastShape,
  geluDerivativeReference,
  geluReference,
  siluDerivativeReference,
  siluReference,
} from "../../src/ops/elementwise/reference.ts";
import { gpu } from "../../src/gpu/device.ts";
import { flatWorkgroups } from "../../src/gpu/launch.ts";

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
  // innermost extent a multiple of 4: a vec4 of the output per invocation, inputs read as vec4s
  // (stride 1) or splat elements (stride 0)
  [[8, 16], [16]],
  [[6, 8], [6, 1]],
  [[3, 17, 64], [17, 64]],
  [[4, 1, 8], [1, 5, 8]],
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

/** The largest |actual - expected| over max(1, |expected|). */
function largestError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let largest = 0;
  for (let i = 0; i < expected.length; i++) {
    largest = Math.max(
      largest,
      Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])),
    );
  }
  return largest;
}

gpuTest("elementwise: activation gradients, both entry points, match float64", async () => {
  // 4099 values: 1024 whole vec4s and a tail of 3 for `main_vec4`; the tails of both functions
  const count = 4099;
  const x = Array.from(
    { length: count },
    (_, i) => i < 8 ? [-30, -9, -3, 0, 1e-3, 3, 9, 30][i] : Math.sin(i) * 6,
  );
  const gradOut = Array.from({ length: count }, (_, i) => Math.cos(i * 0.7));
  const xTensor = tensor(x, [count]);
  const gradTensor = tensor(gradOut, [count]);
  const cases = [
    { name: "gelu", code: 0, derivative: geluDerivativeReference },
    { name: "silu", code: 1, derivative: siluDerivativeReference },
  ] as const;
  for (const { name, code, derivative } of cases) {
    const expected = x.map((v, i) => gradOut[i] * derivative(Math.fround(v)));
    // the op: pooled buffers hold whole vec4s, so `main_vec4`
    const watch = watchKernels();
    const viaOp = activationBackward(name, xTensor, gradTensor);
    watch.stop();
    assertEquals(watch.kernels, ["elementwise/unary_backward"]);
    const opError = largestError(await viaOp.read(), expected);
    assertTrue(opError < 2e-6, `${name}' main_vec4: largest error ${opError}`);
    // `main`, one element per invocation (what buffers without whole vec4s get)
    const viaMain = Tensor.empty([count]);
    gpu().dispatch({
      kernel: "elementwise/unary_backward",
      entryPoint: "main",
      constants: { OP: code },
      buffers: [xTensor.buffer, gradTensor.buffer, viaMain.buffer],
      params: new Uint32Array([count]),
      workgroups: flatWorkgroups(count),
    });
    const mainError = largestError(await viaMain.read(), expected);
    assertTrue(mainError < 2e-6, `${name}' main: largest error ${mainError}`);
    viaOp.dispose();
    viaMain.dispose();
  }
  xTensor.dispose();
  gradTensor.dispose();
});

gpuTest("elementwise: unary ops one element per invocation match float64", async () => {
  const count = 4099;
  const x = Array.from({ length: count }, (_, i) => Math.sin(i) * 6);
  const xTensor = tensor(x, [count]);
  const cases: [number, number, (v: number) => number][] = [
    [0, -2.5, (v) => -2.5 * v],
    [1, 0.75, (v) => v + 0.75],
    [2, 0, geluReference],
    [3, 0, siluReference],
  ];
  for (const [code, scalar, f] of cases) {
    const words = new Uint32Array(2);
    words[0] = count;
    new Float32Array(words.buffer, 4, 1)[0] = scalar;
    const output = Tensor.empty([count]);
    gpu().dispatch({
      kernel: "elementwise/unary",
      entryPoint: "main",
      constants: { OP: code },
      buffers: [xTensor.buffer, output.buffer],
      params: words,
      workgroups: flatWorkgroups(count),
    });
    const error = largestError(await output.read(), x.map((v) => f(Math.fround(v))));
    assertTrue(error < 2e-6, `unary OP ${code} main: largest error ${error}`);
    output.dispose();
  }
  xTensor.dispose();
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
