import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { backward } from "../../src/tensor/backward.ts";
import {
  add,
  addScalar,
  div,
  gelu,
  mul,
  scale,
  silu,
  sub,
} from "../../src/ops/elementwise/forward.ts";
import { layerNorm } from "../../src/ops/normalization/forward.ts";
import {
  l2Normalize,
  max,
  mean,
  meanAll,
  setRowKernelMode,
  sum,
  sumAll,
} from "../../src/ops/reduction/forward.ts";
import {
  crossEntropy,
  crossEntropyWithLabels,
  logSoftmax,
  softmax,
} from "../../src/ops/softmax/forward.ts";
import { liveTensorCount, type Shape, type Tensor, tensor } from "../../src/tensor/tensor.ts";
import { checkOp } from "../helpers/op_check.ts";
import { gpuTest, watchKernels } from "../helpers/gpu_test.ts";
import { layerNormReference } from "../../src/ops/normalization/reference.ts";

const SHAPES: Shape[] = [[1], [3], [7, 5], [2, 1, 3], [3, 384], [2, 2, 130], [130, 7]];

gpuTest("layerNorm: with weight and bias matches float64", async () => {
  for (const shape of SHAPES) {
    const length = shape[shape.length - 1];
    await checkOp({
      name: `layerNorm ${JSON.stringify(shape)}`,
      inputs: [{ shape }, { shape: [length] }, { shape: [length] }],
      gpu: (x, weight, bias) => layerNorm(x, weight, bias),
      reference: layerNormReference(length, 1e-5, true, true),
      outputShape: shape,
      // [1] and [3] rows: x - mean is tiny next to x; finite differences of rstd are touchy
      gradTolerance: { absolute: 5e-4, relative: 2e-3 },
      gradSamples: 30,
    });
  }
});

gpuTest("layerNorm: without weight or bias, other eps", async () => {
  for (const shape of [[3], [7, 5], [33, 260]] as Shape[]) {
    const length = shape[shape.length - 1];
    await checkOp({
      name: `layerNorm plain ${JSON.stringify(shape)}`,
      inputs: [{ shape }],
      gpu: (x) => layerNorm(x, undefined, undefined, 1e-3),
      reference: layerNormReference(length, 1e-3, false, false),
      outputShape: shape,
      gradTolerance: { absolute: 5e-4, relative: 2e-3 },
    });
    await checkOp({
      name: `layerNorm weight only ${JSON.stringify(shape)}`,
      inputs: [{ shape }, { shape: [length] }],
      gpu: (x, weight) => layerNorm(x, weight),
      reference: layerNormReference(length, 1e-5, true, false),
      outputShape: shape,
      gradTolerance: { absolute: 5e-4, relative: 2e-3 },
    });
    await checkOp({
      name: `layerNorm bias only ${JSON.stringify(shape)}`,
      inputs: [{ shape }, { shape: [length] }],
      gpu: (x, bias) => layerNorm(x, undefined, bias),
      reference: layerNormReference(length, 1e-5, false, true),
      outputShape: shape,
      gradTolerance: { absolute: 5e-4, relative: 2e-3 },
    });
  }
});

gpuTest("layerNorm: a larger batch (weight and bias gradients summed over 1000 rows)", async () => {
  await checkOp({
    name: "layerNorm [1000, 48]",
    inputs: [{ shape: [1000, 48] }, { shape: [48] }, { shape: [48] }],
    gpu: (x, weight, bias) => layerNorm(x, weight, bias),
    reference: layerNormReference(48, 1e-5, true, true),
    outputShape: [1000, 48],
    gradTolerance: { absolute: 2e-3, relative: 2e-3 },
    gradSamples: 20,
  });
});

gpuTest("layerNorm: gradient only to weight and bias when x is constant", async () => {
  await checkOp({
    name: "layerNorm x without grad",
    inputs: [{ shape: [9, 6], grad: false }, { shape: [6] }, { shape: [6] }],
    gpu: (x, weight, bias) => layerNorm(x, weight, bias),
    reference: layerNormReference(6, 1e-5, true, true),
    outputShape: [9, 6],
  });
});

gpuTest("layerNorm: bad weight shapes say what failed", () => {
  const x = tensor(new Float32Array(6), [2, 3]);
  const wrong = tensor(new Float32Array(2), [2]);
  const matrix = tensor(new Float32Array(3), [1, 3]);
  assertThrows(
    () => layerNorm(x, wrong),
    ShapeError,
    "layerNorm: weight must have shape [3] for x [2, 3], got [2]",
  );
  assertThrows(() => layerNorm(x, undefined, matrix), ShapeError, "bias must have shape [3]");
  for (const t of [x, wrong, matrix]) t.dispose();
});

gpuTest("ops of this family leave no tensor behind after forward and backward", () => {
  const x = tensor(Array.from({ length: 24 }, (_, i) => Math.sin(i)), [4, 6]);
  const row = tensor(Array.from({ length: 6 }, (_, i) => 1 + i / 10), [6]);
  const labels = tensor([0, 5, 2, 3], [4], "i32");
  for (const t of [x, row]) t.requiresGrad = true;
  const before = liveTensorCount();
  // intermediates are disposed by hand after backward (not with tidy: tidy would also dispose
  // tensors a gradient rule leaked inside backward, and the tape's saved handles)
  const made: Tensor[] = [];
  const track = (value: Tensor) => (made.push(value), value);
  const a = track(gelu(track(div(
    track(mul(track(add(x, row)), row)),
    track(sub(row, track(scale(row, 2)))),
  ))));
  const b = track(silu(track(addScalar(track(layerNorm(a, row, row)), 0.5))));
  const c = track(add(track(l2Normalize(b)), track(max(b, 0, true))));
  const centered = track(sub(c, track(mean(c, 1, true))));
  const d = track(crossEntropy(track(softmax(c, 0.5)), track(logSoftmax(centered, 2))));
  const e = track(add(track(sum(d, 0)), track(meanAll(track(crossEntropyWithLabels(c, labels))))));
  const loss = sumAll(e);
  backward(loss);
  loss.dispose();
  for (const value of made) value.dispose();
  assertEquals(liveTensorCount(), before + 2); // the two .grad tensors
  for (const t of [x.grad!, row.grad!, x, row, labels]) t.dispose();
});

gpuTest("layerNorm: both row kernels (per invocation, per workgroup) match float64", async () => {
  // 300 rows of 96: the automatic choice takes one invocation per row; each mode is also forced.
  // One invocation per row reads rows of 96 as vec4s (the forward keeps them in registers; rows
  // of 160, 40 vec4s, are past its limit of 32 and read in each pass), rows of 5, 3 and 33 one
  // element at a time; the weight and bias gradients go four columns per invocation for 96.
  const watch = watchKernels();
  for (const mode of ["invocation", "workgroup", undefined] as const) {
    setRowKernelMode(mode);
    watch.entryPoints.length = 0;
    try {
      for (const shape of [[300, 96], [7, 5], [2, 1, 3], [260, 33], [256, 160]] as Shape[]) {
        const length = shape[shape.length - 1];
        await checkOp({
          name: `layerNorm ${mode ?? "auto"} ${JSON.stringify(shape)}`,
          inputs: [{ shape }, { shape: [length] }, { shape: [length] }],
          gpu: (x, weight, bias) => layerNorm(x, weight, bias),
          reference: layerNormReference(length, 1e-5, true, true),
          outputShape: shape,
          gradTolerance: { absolute: 5e-4, relative: 2e-3 },
          gradSamples: 20,
        });
      }
    } finally {
      setRowKernelMode(undefined);
    }
    for (const entry of ["main", "main_vec4"]) {
      const name = `normalization/layer_norm_backward_affine:${entry}`;
      assertTrue(watch.entryPoints.includes(name), `${name} did not run`);
    }
    if (mode === "invocation") {
      for (const kernel of ["layer_norm", "layer_norm_backward"]) {
        for (const entry of ["short_rows", "short_rows_vec4"]) {
          const name = `normalization/${kernel}:${entry}`;
          assertTrue(watch.entryPoints.includes(name), `${name} did not run`);
        }
      }
    }
  }
  watch.stop();
});
