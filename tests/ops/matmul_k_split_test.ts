// matmul with K split into slices (src/ops/matmul/variants.ts): values against the float64 product
// in every layout, gradients, and when the default splits.
import { assertEquals, assertTrue } from "../helpers/assert.ts";
import { matmul, type MatmulOptions } from "../../src/ops/matmul/forward.ts";
import { kSliceCount, MATMUL_VARIANTS, type MatmulProblem } from "../../src/ops/matmul/variants.ts";
import { defaultMatmulVariant } from "../../src/ops/matmul/choice.ts";
import { matmulReference } from "../../src/ops/matmul/reference.ts";
import { readAll, type Shape, tensor } from "../../src/tensor/tensor.ts";
import { assertClose, checkOp } from "../helpers/op_check.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { GRAD_TOLERANCE, sharedProduct, TOLERANCE } from "../helpers/matmul_problem.ts";
import { Random } from "../helpers/random.ts";

gpuTest("matmul: K split into slices (the last shallower) equals the float64 product", async () => {
  const random = new Random(5);
  // K = 76 in slices of 28 (28, 28, 20) or 12 (six of 12, one of 4); every layout of a and b,
  // and a batched a [2, 9, K] folded into 18 rows.
  const layouts: { name: string; aShape: Shape; bShape: Shape; options: MatmulOptions }[] = [
    { name: "plain", aShape: [21, 76], bShape: [76, 40], options: {} },
    { name: "transposeA", aShape: [76, 24], bShape: [76, 40], options: { transposeA: true } },
    { name: "transposeB", aShape: [21, 76], bShape: [36, 76], options: { transposeB: true } },
    {
      name: "both transposed",
      aShape: [76, 24],
      bShape: [36, 76],
      options: { transposeA: true, transposeB: true },
    },
    { name: "folded batch", aShape: [2, 9, 76], bShape: [76, 20], options: {} },
  ];
  for (const layout of layouts) {
    const ref = matmulReference(layout);
    const hosts = [layout.aShape, layout.bShape].map((shape) =>
      Float64Array.from(Float32Array.from(random.normals(shape.reduce((x, y) => x * y, 1))))
    );
    const expected = ref.compute(...hosts);
    const [a, b] = [layout.aShape, layout.bShape].map((shape, i) => tensor(hosts[i], shape));
    const problem: MatmulProblem = {
      batch: 1,
      m: ref.batch * ref.m,
      n: ref.n,
      k: ref.k,
      transposeA: layout.options.transposeA ?? false,
      transposeB: layout.options.transposeB ?? false,
      sharedA: true,
      sharedB: true,
    };
    const variants = MATMUL_VARIANTS.filter((v) => v.splitsK && v.supports(problem));
    assertTrue(variants.length >= 1, `${layout.name}: a variant that splits K applies`);
    for (const variant of variants) {
      for (const kSlices of [3, 7]) {
        const output = matmul(a, b, { ...layout.options, variant: variant.name, kSlices });
        const [value] = await readAll([output]);
        assertClose(
          value,
          expected,
          `${layout.name} ${variant.name} in ${kSlices} slices`,
          TOLERANCE,
        );
        output.dispose();
      }
    }
    a.dispose();
    b.dispose();
  }
});

gpuTest("matmul: gradients through a K-split product", async () => {
  const variant = MATMUL_VARIANTS.find((v) =>
    v.splitsK && v.supports({
      batch: 1,
      m: 12,
      n: 8,
      k: 40,
      transposeA: true,
      transposeB: false,
      sharedA: true,
      sharedB: true,
    })
  )!;
  await checkOp({
    name: "matmul split 3",
    inputs: [{ shape: [40, 12] }, { shape: [40, 8] }],
    outputShape: [12, 8],
    gpu: (a, b) => matmul(a, b, { transposeA: true, variant: variant.name, kSlices: 3 }),
    reference: matmulReference({ aShape: [40, 12], bShape: [40, 8], options: { transposeA: true } })
      .compute,
    tolerance: TOLERANCE,
    gradTolerance: GRAD_TOLERANCE,
    gradSamples: 24,
  });
});

gpuTest("matmul: a long K under a small output is split, a large output is not", () => {
  const problem = (m: number, n: number, k: number) => sharedProduct(m, n, k, { transposeA: true });
  // 16 x 16 outputs are one workgroup: too few invocations for any adapter.
  const small = problem(16, 16, 65536);
  const smallSlices = kSliceCount(defaultMatmulVariant(small), small);
  assertTrue(smallSlices > 1 && smallSlices <= 64, `16x16x65536: ${smallSlices} slices`);
  // slices stay at least 256 deep
  const shallow = problem(16, 16, 600);
  assertTrue(kSliceCount(defaultMatmulVariant(shallow), shallow) <= 2, "600 deep: at most 2");
  const large = problem(4096, 4096, 4096);
  assertEquals(kSliceCount(defaultMatmulVariant(large), large), 1);
  const batched = { ...small, batch: 2 };
  assertEquals(kSliceCount(defaultMatmulVariant(batched), batched), 1, "batched: never split");
});
