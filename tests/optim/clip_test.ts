import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { assertClose } from "../helpers/op_check.ts";
import { Random } from "../helpers/random.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import {
  clipFactorsPerParameter,
  clipGradNorm,
  clipGradNormPerParameter,
  gradNormClipFactor,
} from "../../src/optim/clip.ts";
import { readAll, type Tensor, tensor } from "../../src/tensor/tensor.ts";

function f32(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(values));
}

function l2(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return Math.sqrt(sum);
}

/** Parameters of odd sizes (one large enough for many partial sums) with gradients. */
function setup(seed: number, sizes: number[]): { params: Tensor[]; grads: Float64Array[] } {
  const random = new Random(seed);
  const grads = sizes.map((size, index) => f32(random.normals(size, 0.1 * (index + 1))));
  const params = sizes.map((size, index) => {
    const param = tensor(new Float32Array(size));
    param.requiresGrad = true;
    param.grad = tensor(grads[index]);
    return param;
  });
  return { params, grads };
}

function release(params: Tensor[]): void {
  for (const param of params) {
    param.grad?.dispose();
    param.dispose();
  }
}

const SIZES = [1, 7, 1000, 70_001];

gpuTest("clip: global norm above and below maxNorm matches clip_grad_norm_", async () => {
  for (const ratio of [0.3, 2]) {
    const { params, grads } = setup(1, SIZES);
    const gradless = tensor([1, 2, 3]); // no gradient: skipped
    const norm = l2(grads.map(l2));
    const maxNorm = norm * ratio;
    const got = clipGradNorm([...params, gradless], maxNorm);
    assertEquals(got.shape, [1]);
    const factor = Math.min(1, maxNorm / (norm + 1e-6));
    const read = await readAll([got, ...params.map((p) => p.grad!)]);
    assertClose(read[0], [norm], `norm (ratio ${ratio})`, { absolute: 1e-6, relative: 1e-5 });
    grads.forEach((grad, index) => {
      assertClose(
        read[index + 1],
        grad.map((g) => g * factor),
        `clipped gradient ${index} (ratio ${ratio})`,
        { absolute: 1e-7, relative: 1e-5 },
      );
    });
    got.dispose();
    gradless.dispose();
    release(params);
  }
});

gpuTest("clip: per-parameter clipping matches DINO's clip_gradients", async () => {
  const { params, grads } = setup(2, SIZES);
  const norms = grads.map(l2);
  // between the norms: some gradients are clipped, others are left alone
  const sorted = [...norms].sort((a, b) => a - b);
  const maxNorm = (sorted[1] + sorted[2]) / 2;
  const got = clipGradNormPerParameter(params, maxNorm);
  assertEquals(got.shape, [SIZES.length]);
  const read = await readAll([got, ...params.map((p) => p.grad!)]);
  assertClose(read[0], norms, "per-parameter norms", { absolute: 1e-6, relative: 1e-5 });
  grads.forEach((grad, index) => {
    const coefficient = maxNorm / (norms[index] + 1e-6);
    const expected = coefficient < 1 ? grad.map((g) => g * coefficient) : grad;
    assertClose(read[index + 1], expected, `gradient ${index}`, {
      absolute: 1e-7,
      relative: 1e-5,
    });
  });
  got.dispose();
  release(params);
});

gpuTest("clip: clipFactorsPerParameter gives DINO's factors, 1 without a gradient", async () => {
  const { params, grads } = setup(4, SIZES);
  const norms = grads.map(l2);
  const sorted = [...norms].sort((a, b) => a - b);
  const maxNorm = (sorted[1] + sorted[2]) / 2;
  const gradless = tensor([1, 2, 3]);
  gradless.requiresGrad = true;
  const all = [params[0], gradless, ...params.slice(1)];
  const factors = clipFactorsPerParameter(all, maxNorm);
  assertEquals(factors.shape, [all.length]);
  const read = await readAll([factors, ...params.map((p) => p.grad!)]);
  const expected = norms.map((norm) => Math.min(1, maxNorm / (norm + 1e-6)));
  assertClose(read[0], [expected[0], 1, ...expected.slice(1)], "factors", {
    absolute: 1e-7,
    relative: 1e-5,
  });
  assertTrue(expected.some((factor) => factor < 1) && expected.some((factor) => factor === 1));
  grads.forEach((grad, index) =>
    assertClose(read[index + 1], grad, `untouched gradient ${index}`, { absolute: 0, relative: 0 })
  );
  factors.dispose();
  gradless.dispose();
  release(params);
});

gpuTest("clip: gradNormClipFactor leaves gradients alone; errors say what failed", async () => {
  const { params, grads } = setup(3, [5, 300]);
  const norm = l2(grads.map(l2));
  const result = gradNormClipFactor(params, 0.5 * norm);
  const read = await readAll([result.norm, result.factor, params[1].grad!]);
  assertClose([read[0][0], read[1][0]], [norm, 0.5 * norm / (norm + 1e-6)], "norm and factor");
  assertClose(read[2], grads[1], "untouched gradient", { absolute: 0, relative: 0 });
  const empty = gradNormClipFactor([tensor([1])], 1);
  const [emptyNorm, emptyFactor] = await readAll([empty.norm, empty.factor]);
  assertEquals([emptyNorm[0], emptyFactor[0]], [0, 1]);
  assertThrows(() => clipGradNorm(params, 0), RangeError, "maxNorm must be a finite number > 0");
  params[0].grad!.dispose();
  params[0].grad = tensor([1, 2]);
  assertThrows(
    () => clipGradNorm(params, 1),
    ShapeError,
    "clipGradNorm: gradient of parameter 0 does not match it: Tensor [5] f32 has gradient " +
      "Tensor [2] f32",
  );
  for (const t of [result.norm, result.factor, empty.norm, empty.factor]) t.dispose();
  release(params);
});
