/**
 * Matmul on f16 operands: the f16 forms of the subgroup and vec4 kernels
 * (kernels/matmul/subgroup_f16.wgsl, vec4_f16.wgsl) and the widened path of variants without one,
 * against the float64 reference on the f16-rounded inputs (f32 sums: the f32 tolerance) and
 * against each kernel's f32 form on the same rounded values (the same sums: equal), with transposes, a batch, the epilogue and a K split; gradients through
 * `cast` equal those of the f32 product of the rounded values; mixed dtypes refused.
 */
import { assertEquals, assertThrows, assertTrue as assert } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { cast } from "../../src/ops/cast/forward.ts";
import { toF16Reference } from "../../src/ops/cast/reference.ts";
import { matmul, type MatmulOptions } from "../../src/ops/matmul/forward.ts";
import { matmulReference } from "../../src/ops/matmul/reference.ts";
import { hasSubgroupsOfEight } from "../../src/ops/matmul/variants.ts";
import { meanAll } from "../../src/ops/reduction/forward.ts";
import { backward } from "../../src/tensor/backward.ts";
import { readAll, type Shape, type Tensor, tensor } from "../../src/tensor/tensor.ts";
import { assertClose } from "../helpers/op_check.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { Random } from "../helpers/random.ts";

const TOLERANCE = { absolute: 2e-4, relative: 2e-4 };

interface F16Case {
  name: string;
  aShape: Shape;
  bShape: Shape;
  options?: Omit<MatmulOptions, "bias" | "residual"> & { bias?: boolean; residual?: boolean };
}

const CASES: F16Case[] = [
  { name: "plain 37x64x48", aShape: [37, 48], bShape: [48, 64] },
  {
    name: "linear (weight [N, K]) 2x27x96x64",
    aShape: [2, 27, 64],
    bShape: [96, 64],
    options: { transposeB: true },
  },
  {
    name: "a stored [K, M], M % 4 = 0",
    aShape: [40, 32],
    bShape: [40, 36],
    options: { transposeA: true },
  },
  {
    name: "a stored [K, M], M = 30",
    aShape: [40, 30],
    bShape: [40, 36],
    options: { transposeA: true },
  },
  { name: "batched 3x20x24x16", aShape: [3, 20, 16], bShape: [3, 16, 24] },
  {
    name: "bias, gelu, residual",
    aShape: [50, 32],
    bShape: [40, 32],
    options: { transposeB: true, bias: true, activation: "gelu", residual: true },
  },
  { name: "K split in 3", aShape: [24, 1024], bShape: [1024, 32], options: { kSlices: 3 } },
];

/** Values that f16 holds exactly (the inputs rounded once on the host). */
function roundedValues(random: Random, count: number): number[] {
  return Array.from(toF16Reference(Array.from({ length: count }, () => random.normal())));
}

gpuTest(
  "matmul f16: the f16 form and the widened path match float64 and the f32 kernel",
  async () => {
    const random = new Random(3);
    for (const { name, aShape, bShape, options = {} } of CASES) {
      const reference = matmulReference({
        aShape,
        bShape,
        options: {
          ...options,
          bias: options.bias ? ({} as Tensor) : undefined,
          residual: options.residual ? ({} as Tensor) : undefined,
        },
      });
      const aValues = roundedValues(random, aShape.reduce((x, y) => x * y, 1));
      const bValues = roundedValues(random, bShape.reduce((x, y) => x * y, 1));
      const bias = options.bias
        ? tensor(roundedValues(random, reference.n), [reference.n])
        : undefined;
      const residual = options.residual
        ? tensor(
          roundedValues(random, reference.outputShape.reduce((x, y) => x * y, 1)),
          reference.outputShape,
        )
        : undefined;
      const a32 = tensor(aValues, aShape);
      const b32 = tensor(bValues, bShape);
      const a16 = cast(a32, "f16");
      const b16 = cast(b32, "f16");
      const run = (a: Tensor, b: Tensor, variant?: string) =>
        matmul(a, b, { ...options, bias, residual, variant });
      // The kernels with an f16 form, each beside its f32 form on the same rounded values.
      const forms = [
        ...(hasSubgroupsOfEight()
          ? ["subgroup-r24x8-64", "subgroup-r32x8-fit", "subgroup-r64x8-fit"]
          : []),
        // the defaults without subgroups and on a GPU
        ...(options.transposeA && aShape[1] % 4 !== 0 ? [] : ["vec4-r8-8x8", "vec4-r8-16x4"]),
      ];
      const outputs = [
        run(a16, b16), // the default choice
        run(a16, b16, "tiled-32x32x16"), // no f16 form: widened
        ...forms.flatMap((variant) => [run(a16, b16, variant), run(a32, b32, variant)]),
      ];
      const values = await readAll(outputs);
      const expected = reference.compute(
        Float64Array.from(aValues),
        Float64Array.from(bValues),
        ...(bias ? [Float64Array.from(await bias.read())] : []),
        ...(residual ? [Float64Array.from(await residual.read())] : []),
      );
      for (const [index, got] of values.entries()) {
        assertEquals(outputs[index].dtype, "f32");
        assertClose(got as Float32Array, expected, `${name}: output ${index}`, TOLERANCE);
      }
      for (const [index, variant] of forms.entries()) {
        assertEquals(
          Array.from(values[2 + 2 * index]),
          Array.from(values[3 + 2 * index]),
          `${name}: ${variant}'s f16 form = its f32 form`,
        );
      }
      for (const t of [a32, b32, a16, b16, ...outputs, bias, residual]) t?.dispose();
    }
  },
);

gpuTest(
  "matmul f16: gradients through cast equal the f32 product's; with GELU near them",
  async () => {
    const random = new Random(5);
    const aValues = roundedValues(random, 2 * 12 * 32);
    const bValues = roundedValues(random, 20 * 32);
    const gradsOf = async (half: boolean, activation: "none" | "gelu") => {
      const a = tensor(aValues, [2, 12, 32]);
      const b = tensor(bValues, [20, 32]);
      a.requiresGrad = true;
      b.requiresGrad = true;
      const [left, right] = half ? [cast(a, "f16"), cast(b, "f16")] : [a, b];
      backward(meanAll(matmul(left, right, { transposeB: true, activation })));
      assert(a.grad !== undefined && b.grad !== undefined, "both operands get a gradient");
      assertEquals([a.grad.dtype, b.grad.dtype], ["f32", "f32"]);
      return await readAll([a.grad, b.grad]);
    };
    // Without an activation the same sums: equal.
    const [halfA, halfB] = await gradsOf(true, "none");
    const [fullA, fullB] = await gradsOf(false, "none");
    assertEquals(Array.from(halfA), Array.from(fullA));
    assertEquals(Array.from(halfB), Array.from(fullB));
    // With GELU the pre-activation is saved as f16: GELU' of the rounded value, within 1e-3 of max.
    const [geluHalfA, geluHalfB] = await gradsOf(true, "gelu");
    const [geluFullA, geluFullB] = await gradsOf(false, "gelu");
    const pairs: [string, ArrayLike<number>, ArrayLike<number>][] = [
      ["a", geluHalfA, geluFullA],
      ["b", geluHalfB, geluFullB],
    ];
    for (const [what, got, expected] of pairs) {
      const scale = Math.max(...Array.from(expected, Math.abs));
      assertClose(got, expected, `gelu gradient of ${what}`, {
        absolute: 1e-3 * scale,
        relative: 0,
      });
    }
  },
);

gpuTest("matmul f16: an f16 operand beside an f32 one is refused", () => {
  const a = tensor([1, 2, 3, 4], [2, 2]);
  const b = cast(tensor([1, 0, 0, 1], [2, 2]), "f16");
  assertThrows(() => matmul(a, b), ShapeError, "both f32 or both f16: a f32, b f16");
  a.dispose();
  b.dispose();
});
