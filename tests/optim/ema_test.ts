import { assertThrows } from "../helpers/assert.ts";
import { assertClose } from "../helpers/op_check.ts";
import { Random } from "../helpers/random.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { emaUpdate } from "../../src/optim/ema.ts";
import { readAll, tensor } from "../../src/tensor/tensor.ts";

function f32(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(values));
}

gpuTest(
  "ema: target = m * target + (1 - m) * source over odd sizes and changing momentum",
  async () => {
    const random = new Random(4);
    const sizes = [1, 7, 1000, 70_001];
    const expected = sizes.map((size) => f32(random.normals(size)));
    const targets = expected.map((values) => tensor(values));
    const sourceValues = sizes.map((size) => f32(random.normals(size)));
    const sources = sourceValues.map((values) => tensor(values));
    const momentumTensor = tensor([0.5]);
    // numbers (one repeated, so the upload is skipped) and a momentum held on the GPU
    for (const momentum of [0.996, 0.996, 0.9, momentumTensor]) {
      emaUpdate(targets, sources, momentum);
      const m = typeof momentum === "number" ? Math.fround(momentum) : 0.5;
      expected.forEach((values, pair) => {
        for (let i = 0; i < values.length; i++) {
          values[i] = m * values[i] + (1 - m) * sourceValues[pair][i];
        }
      });
    }
    const read = await readAll(targets);
    read.forEach((values, pair) => {
      assertClose(values, expected[pair], `pair ${pair} (size ${sizes[pair]})`, {
        absolute: 1e-6,
        relative: 1e-5,
      });
    });
    assertThrows(
      () => emaUpdate(targets.slice(0, 2), [sources[1], sources[0]], 0.9),
      ShapeError,
      "emaUpdate: pair 0 differs: target Tensor [1] f32 vs source Tensor [7] f32",
    );
    assertThrows(() => emaUpdate(targets, sources, 1.5), RangeError, "momentum must be in [0, 1]");
    for (const t of [...targets, ...sources, momentumTensor]) t.dispose();
  },
);
