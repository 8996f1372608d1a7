import { assertEquals, assertThrows } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { patchify, resizeBicubic, type ResizeOptions } from "../../src/ops/image/forward.ts";
import { backward } from "../../src/tensor/backward.ts";
import { liveTensorCount, type Shape, tensor, zeros } from "../../src/tensor/tensor.ts";
import { assertClose, checkOp } from "../helpers/op_check.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import {
  patchifyReference,
  resizeGeometry,
  resizeReference,
} from "../../src/ops/image/reference.ts";

// ---- cases ----

gpuTest("image: patchify matches the (c, kh, kw) reference, gradient inverts it", async () => {
  const cases: [Shape, number][] = [
    [[2, 3, 8, 12], 4],
    [[1, 1, 5, 5], 5],
    [[3, 2, 6, 4], 2],
    [[1, 3, 3, 2], 1],
    [[5, 3, 14, 28], 14],
  ];
  for (const [shape, p] of cases) {
    const [batch, channels, height, width] = shape;
    await checkOp({
      name: `patchify ${shape} patch ${p}`,
      inputs: [{ shape }],
      gpu: (images) => patchify(images, p),
      reference: (images) => patchifyReference(images, shape, p),
      outputShape: [batch, (height / p) * (width / p), channels * p * p],
    });
  }
  const images = zeros([1, 3, 8, 6]);
  assertThrows(() => patchify(images, 4), ShapeError, "image size 8 x 6 of [1, 3, 8, 6]");
  assertThrows(() => patchify(images, 16), ShapeError, "not a multiple of the patch size 16");
  assertThrows(() => patchify(images, 0), ShapeError, "patch size must be a whole number >= 1");
  const flat = zeros([3, 8, 6]);
  assertThrows(() => patchify(flat, 2), ShapeError, "images must be [B, C, H, W] f32");
  images.dispose();
  flat.dispose();
});

const resizeCases: [Shape, ResizeOptions][] = [
  [[1, 2, 5, 7], { size: [9, 11] }],
  [[2, 1, 9, 6], { size: [4, 5] }],
  [[1, 1, 1, 3], { size: [3, 1] }],
  [[3, 2, 6, 6], { size: [6, 6] }],
  [[1, 3, 7, 7], { scaleFactor: [8.1 / 7, 9.1 / 7] }],
  [[1, 2, 13, 13], { scaleFactor: [5.1 / 13, 5.1 / 13] }],
  [[1, 2, 13, 11], { size: [5, 4], antialias: true }],
  [[2, 1, 4, 5], { size: [9, 7], antialias: true }],
  [[1, 1, 9, 3], { size: [2, 7], antialias: true }],
];

gpuTest("image: resizeBicubic matches the float64 reference, gradient is the adjoint", async () => {
  for (const [shape, options] of resizeCases) {
    await checkOp({
      name: `resizeBicubic ${shape} ${JSON.stringify(options)}`,
      inputs: [{ shape }],
      gpu: (x) => resizeBicubic(x, options),
      reference: (x) => resizeReference(x, shape, options),
      outputShape: resizeGeometry(shape, options).outShape,
    });
  }
});

interface ResizeFixture {
  name: string;
  inputShape: number[];
  input: number[];
  options: {
    size: [number, number] | null;
    scaleFactor: [number, number] | null;
    antialias: boolean;
  };
  outputShape: number[];
  output: number[];
}

async function loadFixtures(): Promise<ResizeFixture[]> {
  const directory = new URL("../fixtures/resize/", import.meta.url);
  const fixtures: ResizeFixture[] = [];
  for await (const entry of Deno.readDir(directory)) {
    if (!entry.name.endsWith(".json")) continue;
    fixtures.push(JSON.parse(await Deno.readTextFile(new URL(entry.name, directory))));
  }
  return fixtures.sort((a, b) => a.name.localeCompare(b.name));
}

gpuTest("image: resizeBicubic and its CPU reference match PyTorch's fixtures", async () => {
  const fixtures = await loadFixtures();
  assertEquals(fixtures.length >= 8, true, `found ${fixtures.length} fixtures`);
  for (const fixture of fixtures) {
    // 1e-5 relative to the output's scale: PyTorch computes in float32 (its taps themselves
    // carry ~5e-7 of rounding), so values near zero cannot be held to 1e-5 of themselves.
    const magnitude = fixture.output.reduce(
      (largest, value) => Math.max(largest, Math.abs(value)),
      0,
    );
    const tolerance = { absolute: 1e-5 * magnitude, relative: 1e-5 };
    const options: ResizeOptions = {
      size: fixture.options.size ?? undefined,
      scaleFactor: fixture.options.scaleFactor ?? undefined,
      antialias: fixture.options.antialias,
    };
    const reference = resizeReference(
      Float64Array.from(fixture.input),
      fixture.inputShape,
      options,
    );
    assertClose(reference, fixture.output, `${fixture.name}: CPU reference vs PyTorch`, tolerance);
    const x = tensor(fixture.input, fixture.inputShape);
    const y = resizeBicubic(x, options);
    assertEquals([...y.shape], fixture.outputShape, `${fixture.name}: output shape`);
    assertClose(await y.read(), fixture.output, `${fixture.name}: GPU vs PyTorch`, tolerance);
    x.dispose();
    y.dispose();
  }
});

gpuTest("image: resizeBicubic rejects bad options", () => {
  const x = zeros([1, 2, 4, 4]);
  const flat = zeros([4, 4]);
  assertThrows(() => resizeBicubic(x, {}), ShapeError, "give exactly one of size and scaleFactor");
  assertThrows(
    () => resizeBicubic(x, { size: [2, 2], scaleFactor: [2, 2] }),
    ShapeError,
    "give exactly one of size and scaleFactor",
  );
  assertThrows(() => resizeBicubic(x, { size: [0, 3] }), ShapeError, "size must be two whole");
  assertThrows(
    () => resizeBicubic(x, { scaleFactor: [0.1, 1] }),
    ShapeError,
    "gives an empty output 0 x 4 from [1, 2, 4, 4]",
  );
  assertThrows(() => resizeBicubic(x, { scaleFactor: [-1, 1] }), ShapeError, "two positive");
  assertThrows(() => resizeBicubic(flat, { size: [2, 2] }), ShapeError, "must be [B, C, H, W]");
  x.dispose();
  flat.dispose();
});

gpuTest("image: forward and backward leave no tensor behind", () => {
  const before = liveTensorCount();
  const x = zeros([1, 2, 8, 8]);
  x.requiresGrad = true;
  const resized = resizeBicubic(x, { size: [4, 4], antialias: true });
  const patches = patchify(resized, 2);
  const cotangent = zeros(patches.shape);
  backward(patches, cotangent);
  for (const t of [resized, patches, cotangent, x.grad!, x]) t.dispose();
  assertEquals(liveTensorCount(), before);
});
