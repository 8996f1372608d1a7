/**
 * Attention on f16 q, k, v: the f16 forms of the "subgroup" and "rows" kernels
 * (`#form f16` in kernels/attention/*.wgsl) and the widened path of the others ("blocked",
 * "tiled", a head size that is not a multiple of 4), against the float64 reference on the
 * f16-rounded inputs (tolerance: the f16 rounding of the output) and against each variant's f32
 * kernels on the same rounded values (the same f32 sums: the f16 output equals the f32 output
 * rounded to f16); gradients through `cast` near the f32 ones (the saved output is f16); mixed
 * dtypes refused.
 */
import { assertEquals, assertThrows, assertTrue as assert } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { cast, castValues } from "../../src/ops/cast/forward.ts";
import { toF16Reference } from "../../src/ops/cast/reference.ts";
import { mul } from "../../src/ops/elementwise/forward.ts";
import { attention, selfAttention } from "../../src/ops/attention/forward.ts";
import {
  attentionKernels,
  type AttentionKernelVariant,
  hasF16Form,
} from "../../src/ops/attention/choice.ts";
import { float64Attention, float64SelfAttention } from "../../src/ops/attention/reference.ts";
import { subgroupAttentionSupported } from "../../src/ops/attention/team_launch.ts";
import { meanAll } from "../../src/ops/reduction/forward.ts";
import { backward } from "../../src/tensor/backward.ts";
import { readAll, tensor } from "../../src/tensor/tensor.ts";
import { assertClose } from "../helpers/op_check.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { Random } from "../helpers/random.ts";

/** The f16 rounding of an output (relative 2^-11) over f32 sums. */
const TOLERANCE = { absolute: 2e-4, relative: 1.5e-3 };

/** The variants this device runs (subgroup only with subgroups of 8; call after initGpu). */
function variants(): AttentionKernelVariant[] {
  return [
    "rows",
    "blocked",
    "tiled",
    ...(subgroupAttentionSupported() ? ["subgroup" as const, "shared_rows" as const] : []),
  ];
}

/** Values that f16 holds exactly (rounded once on the host). */
function roundedValues(random: Random, count: number): number[] {
  return Array.from(toF16Reference(Array.from({ length: count }, () => random.normal())));
}

/** Runs `body` with the fused kernels forced to `variant`, then restores the choice. */
function withVariant<T>(variant: AttentionKernelVariant, body: () => T): T {
  const saved = attentionKernels.variant;
  attentionKernels.variant = variant;
  try {
    return body();
  } finally {
    attentionKernels.variant = saved;
  }
}

/** Packed self-attention shapes [batch, tokens, heads, head size]. */
const SELF_SHAPES: [number, number, number, number][] = [
  [2, 17, 2, 16],
  [1, 50, 2, 64],
  [1, 37, 3, 5], // head size not a multiple of 4: widened everywhere
];

gpuTest(
  "selfAttention f16: every variant matches float64 and its f32 kernels rounded",
  async () => {
    const random = new Random(7);
    for (const [batch, tokens, heads, d] of SELF_SHAPES) {
      const shape = [batch, tokens, 3 * heads * d];
      const values = roundedValues(random, shape.reduce((x, y) => x * y, 1));
      const expected = float64SelfAttention(Float64Array.from(values), shape, heads);
      const qkv32 = tensor(values, shape);
      const qkv16 = castValues(qkv32, "f16");
      for (const variant of variants()) {
        const what = `${variant} [${batch}, ${tokens}, ${heads} x ${d}]`;
        const [half, full] = withVariant(variant, () => {
          const sizes = { batch, heads, tokens, headSize: d, f16: true };
          const form = hasF16Form(sizes);
          const withForm = variant === "rows" || variant === "subgroup" ||
            variant === "shared_rows";
          assertEquals(form, withForm && d % 4 === 0, what);
          return [selfAttention(qkv16, heads), selfAttention(qkv32, heads)];
        });
        assertEquals(half.dtype, "f16", what);
        const rounded = castValues(full, "f16");
        const [got, roundedFull] = await readAll([half, rounded]);
        assertClose(got, expected, `${what}: f16 output`, TOLERANCE);
        assertEquals(Array.from(got), Array.from(roundedFull), `${what}: = f32 output rounded`);
        for (const t of [half, full, rounded]) t.dispose();
      }
      qkv32.dispose();
      qkv16.dispose();
    }
  },
);

gpuTest("attention f16: separate q, k, v at N = 197, d = 64", async () => {
  const random = new Random(8);
  const shape = [1, 2, 197, 64];
  const count = shape.reduce((x, y) => x * y, 1);
  const inputs = [0, 1, 2].map(() => roundedValues(random, count));
  const expected = float64Attention(
    ...(inputs.map((values) => Float64Array.from(values)) as [
      Float64Array,
      Float64Array,
      Float64Array,
    ]),
    shape,
  );
  const halves = inputs.map((values) => cast(tensor(values, shape), "f16"));
  const output = attention(halves[0], halves[1], halves[2]);
  assertEquals(output.dtype, "f16");
  assertClose(await output.read(), expected, "attention f16 output", TOLERANCE);
  for (const t of [...halves, output]) t.dispose();
});

gpuTest("selfAttention f16: gradients through cast are f32 and near the f32 ones", async () => {
  const random = new Random(9);
  for (const variant of variants()) {
    const [batch, tokens, heads, d] = [2, 21, 2, 16];
    const shape = [batch, tokens, 3 * heads * d];
    const values = roundedValues(random, shape.reduce((x, y) => x * y, 1));
    const weights = tensor(roundedValues(random, batch * tokens * heads * d), [
      batch,
      tokens,
      heads * d,
    ]);
    const gradOf = (half: boolean) =>
      withVariant(variant, () => {
        const qkv = tensor(values, shape);
        qkv.requiresGrad = true;
        const input = half ? cast(qkv, "f16") : qkv;
        const attended = selfAttention(input, heads);
        const output = half ? cast(attended, "f32") : attended;
        backward(meanAll(mul(output, weights)));
        assert(qkv.grad !== undefined, "qkv gets a gradient");
        assertEquals(qkv.grad.dtype, "f32");
        return qkv.grad;
      });
    const [half, full] = await readAll([gradOf(true), gradOf(false)]);
    const scale = Math.max(...Array.from(full, Math.abs));
    // delta = rowsum(dO * O) reads the f16 output: within f16's rounding of the largest gradient
    assertClose(half, full, `${variant}: gradient`, { absolute: 2e-3 * scale, relative: 0 });
    weights.dispose();
  }
});

gpuTest("attention f16: q, k, v of mixed dtypes are refused", () => {
  const q = tensor(new Float32Array(16), [1, 1, 4, 4]);
  const k = castValues(q, "f16");
  assertThrows(
    () => attention(q, k, q),
    ShapeError,
    "attention: q, k and v must have one dtype, got q Tensor [1, 1, 4, 4] f32 and k",
  );
  q.dispose();
  k.dispose();
});
