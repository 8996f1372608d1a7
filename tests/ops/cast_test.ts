/**
 * f32 <-> f16 casts (kernels/cast/cast.wgsl through `cast`): rounding to half precision against
 * `Float16Array` (round to nearest, ties to even) within WGSL's rule (either of the two nearest
 * halves), overflow to infinity, NaN kept, the exact widening back, odd sizes, f16 tensors filled
 * and read, the gradient (cast back), and refused dtypes.
 */
import { assertEquals, assertThrows, assertTrue as assert } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { cast } from "../../src/ops/cast/forward.ts";
import { toF16Reference } from "../../src/ops/cast/reference.ts";
import { mul } from "../../src/ops/elementwise/forward.ts";
import { sumAll } from "../../src/ops/reduction/forward.ts";
import { backward } from "../../src/tensor/backward.ts";
import { full, tensor } from "../../src/tensor/tensor.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { Random } from "../helpers/random.ts";

/** The two f16 values nearest to `x` (equal when x is one), from the reference's rounding. */
function halfNeighbours(x: number): [number, number] {
  const nearest = toF16Reference([x])[0];
  if (nearest === x || !Number.isFinite(nearest)) return [nearest, nearest];
  const bits = new Uint16Array(Float16Array.of(nearest).buffer)[0];
  const step = (nearest < x) === (nearest >= 0) ? 1 : -1; // towards x in magnitude
  const other = new Float16Array(new Uint16Array([bits + step]).buffer)[0];
  return [nearest, other];
}

gpuTest("cast: f32 -> f16 rounds to a nearest half, overflows to infinity, keeps NaN", async () => {
  const random = new Random(7);
  const values = [
    0,
    -0,
    1,
    -2.5,
    1 + 2 ** -11, // halfway between 1 and 1 + 2^-10: ties to even give 1
    1 + 3 * 2 ** -11, // halfway: ties to even give 1 + 2^-9
    65504, // the largest half
    65519.9, // still rounds to 65504
    65520, // rounds past it: infinity
    -1e6,
    Infinity,
    -Infinity,
    NaN,
    6.103515625e-5, // the smallest normal half
    ...Array.from({ length: 300 }, () => random.normal() * 10 ** random.uniform(-4, 4)),
  ];
  const x = tensor(values, [values.length]);
  const half = cast(x, "f16");
  assertEquals(half.dtype, "f16");
  const got = Array.from(await half.read());
  const expected = toF16Reference(values);
  for (const [i, value] of values.entries()) {
    const message = `value ${i}: ${value} -> ${got[i]} (Float16Array: ${expected[i]})`;
    if (Number.isNaN(value)) {
      assert(Number.isNaN(got[i]), message);
    } else if (!Number.isFinite(expected[i]) || expected[i] === value) {
      assert(Object.is(got[i], expected[i]), message);
    } else {
      assert(halfNeighbours(value).includes(got[i]), message);
    }
  }
  // The reference's own rounding at the ties and the edge, so the cases above test what they say.
  assertEquals(Array.from(expected.slice(4, 9)), [1, 1 + 2 ** -9, 65504, 65504, Infinity]);
  x.dispose();
  half.dispose();
});

gpuTest(
  "cast: f16 -> f32 is exact, also for odd sizes, infinities, NaN and subnormals",
  async () => {
    const halves = Float16Array.from([
      1.5,
      -0.0009765625,
      65504,
      -Infinity,
      NaN,
      5.960464477539063e-8,
      3,
    ]);
    const x = tensor(halves, [halves.length], "f16");
    assertEquals(x.byteLength, 16); // 7 halves in 4 words
    const [roundTrip] = [Array.from(await x.read())];
    assertEquals(roundTrip.length, 7);
    const wide = cast(x, "f32");
    const got = Array.from(await wide.read());
    assertEquals(got.length, 7);
    for (const [i, value] of Array.from(halves).entries()) {
      assert(Object.is(got[i], value), `value ${i}: ${value} -> ${got[i]}`);
    }
    for (const size of [0, 1, 2]) {
      const small = cast(
        tensor(Float32Array.from({ length: size }, (_, i) => i + 0.25), [size]),
        "f16",
      );
      assertEquals(
        Array.from(await small.read()),
        Array.from({ length: size }, (_, i) => i + 0.25),
      );
    }
    x.dispose();
    wide.dispose();
  },
);

gpuTest("cast: f16 tensors filled with full() hold the value in every half", async () => {
  const filled = full([5], -1.75, "f16");
  assertEquals(Array.from(await filled.read()), [-1.75, -1.75, -1.75, -1.75, -1.75]);
  const wide = cast(filled, "f32");
  assertEquals(Array.from(await wide.read()), [-1.75, -1.75, -1.75, -1.75, -1.75]);
  filled.dispose();
  wide.dispose();
});

gpuTest("cast: the gradient passes through as f32, both ways", async () => {
  const random = new Random(11);
  const x = tensor(Array.from({ length: 9 }, () => random.normal()), [9]);
  x.requiresGrad = true;
  const weights = Array.from({ length: 9 }, () => random.normal() * 100);
  // x -> f16 -> f32, times weights: d/dx = the weights (f32 gradients: no rounding to f16)
  const loss = sumAll(mul(cast(cast(x, "f16"), "f32"), tensor(weights, [9])));
  backward(loss);
  assertEquals(x.grad!.dtype, "f32");
  assertEquals(Array.from(await x.grad!.read()), weights.map(Math.fround));
});

gpuTest("cast: integer tensors are refused by dtype", () => {
  const indices = tensor([1, 2, 3], [3], "i32");
  assertThrows(() => cast(indices, "f16"), ShapeError, "must be f32 or f16, got i32");
  indices.dispose();
});
