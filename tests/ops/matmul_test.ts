import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { linear, matmul, type MatmulOptions } from "../../src/ops/matmul/forward.ts";
import {
  hasSubgroupsOfEight,
  MATMUL_VARIANTS,
  type MatmulProblem,
} from "../../src/ops/matmul/variants.ts";
import { TRANSPOSED_COPY_MIN_MULTIPLY_ADDS } from "../../src/ops/matmul/choice.ts";
import { readAll, type Shape, type Tensor, tensor, zeros } from "../../src/tensor/tensor.ts";
import { assertClose, checkOp } from "../helpers/op_check.ts";
import { gpuTest, watchKernels } from "../helpers/gpu_test.ts";
import { GRAD_TOLERANCE, TOLERANCE } from "../helpers/matmul_problem.ts";
import { Random } from "../helpers/random.ts";
import { matmulReference } from "../../src/ops/matmul/reference.ts";

/**
 * Checks matmul on one layout: forward against the reference and gradients of a, b, bias and
 * residual against finite differences. `options.bias`/`residual` only flag presence here.
 */
async function checkMatmul(
  name: string,
  aShape: Shape,
  bShape: Shape,
  flags: { transposeA?: boolean; transposeB?: boolean; bias?: boolean; gelu?: boolean } & {
    residual?: boolean;
    variant?: string;
  } = {},
): Promise<void> {
  const layoutOptions: MatmulOptions = {
    transposeA: flags.transposeA,
    transposeB: flags.transposeB,
    activation: flags.gelu ? "gelu" : "none",
    bias: flags.bias ? ({} as Tensor) : undefined,
    residual: flags.residual ? ({} as Tensor) : undefined,
  };
  const ref = matmulReference({ aShape, bShape, options: layoutOptions });
  const inputs = [{ shape: aShape }, { shape: bShape }];
  if (flags.bias) inputs.push({ shape: [ref.n] });
  if (flags.residual) inputs.push({ shape: ref.outputShape });
  await checkOp({
    name: `matmul ${name}`,
    inputs,
    outputShape: ref.outputShape,
    gpu: (a, b, ...rest) =>
      matmul(a, b, {
        transposeA: flags.transposeA,
        transposeB: flags.transposeB,
        activation: flags.gelu ? "gelu" : undefined,
        bias: flags.bias ? rest[0] : undefined,
        residual: flags.residual ? rest[flags.bias ? 1 : 0] : undefined,
        variant: flags.variant,
      }),
    reference: ref.compute,
    tolerance: TOLERANCE,
    gradTolerance: GRAD_TOLERANCE,
    gradSamples: 24,
  });
}

// ---------- forward and gradient checks ----------

gpuTest("matmul: plain, odd sizes and size-1 axes", async () => {
  await checkMatmul("7x5x3", [7, 3], [3, 5]);
  await checkMatmul("1x1x1", [1, 1], [1, 1]);
  await checkMatmul("33x65x17", [33, 17], [17, 65]);
  await checkMatmul("16x12x8 (vec4 path)", [16, 8], [8, 12]);
  await checkMatmul("row vector", [1, 9], [9, 6]);
  await checkMatmul("column result", [6, 9], [9, 1]);
  await checkMatmul("k = 1", [5, 1], [1, 7]);
});

gpuTest("matmul: transposes", async () => {
  await checkMatmul("transposeA", [3, 7], [3, 5], { transposeA: true });
  await checkMatmul("transposeB", [7, 3], [5, 3], { transposeB: true });
  await checkMatmul("transposeB aligned", [9, 8], [12, 8], { transposeB: true });
  await checkMatmul("both", [3, 7], [5, 3], { transposeA: true, transposeB: true });
  await checkMatmul("both 33x17x20", [20, 33], [17, 20], { transposeA: true, transposeB: true });
  await checkMatmul("transposeA aligned", [8, 12], [8, 4], { transposeA: true });
  await checkMatmul("both aligned", [8, 12], [4, 8], { transposeA: true, transposeB: true });
});

gpuTest("matmul: batched, shared b, shared a, larger batch", async () => {
  await checkMatmul("batched", [2, 5, 6], [2, 6, 4]);
  await checkMatmul("batched two axes", [2, 3, 5, 7], [2, 3, 7, 3]);
  await checkMatmul("shared b", [3, 5, 8], [8, 12]);
  await checkMatmul("shared b, transposeA", [3, 8, 5], [8, 6], { transposeA: true });
  await checkMatmul("shared b, transposeB", [3, 5, 8], [12, 8], { transposeB: true });
  await checkMatmul("shared a", [5, 8], [3, 8, 12]);
  await checkMatmul("shared a, both transposed", [8, 5], [3, 7, 8], {
    transposeA: true,
    transposeB: true,
  });
  await checkMatmul("batch of 1", [1, 4, 3], [1, 3, 2]);
  await checkMatmul("larger batch", [24, 9, 8], [8, 12]);
});

gpuTest("matmul: bias, gelu, residual and all combined", async () => {
  await checkMatmul("bias", [7, 3], [3, 5], { bias: true });
  await checkMatmul("gelu", [7, 3], [3, 5], { gelu: true });
  await checkMatmul("residual", [7, 3], [3, 5], { residual: true });
  await checkMatmul("bias + gelu", [6, 8], [8, 12], { bias: true, gelu: true });
  await checkMatmul("all, shared b, transposeB", [3, 5, 8], [12, 8], {
    transposeB: true,
    bias: true,
    gelu: true,
    residual: true,
  });
  await checkMatmul("all, batched, transposeA, odd", [2, 7, 5], [2, 7, 9], {
    transposeA: true,
    bias: true,
    gelu: true,
    residual: true,
  });
});

gpuTest("linear: x @ weight^T + bias with weight [out, in]", async () => {
  const ref = matmulReference({
    aShape: [2, 5, 6],
    bShape: [4, 6],
    options: { transposeB: true, bias: {} as Tensor },
  });
  await checkOp({
    name: "linear",
    inputs: [{ shape: [2, 5, 6] }, { shape: [4, 6] }, { shape: [4] }],
    outputShape: [2, 5, 4],
    gpu: (x, weight, bias) => linear(x, weight, bias),
    reference: ref.compute,
    tolerance: TOLERANCE,
    gradTolerance: GRAD_TOLERANCE,
  });
});

// ---------- every variant against the reference and each other ----------

const EDGE_LAYOUTS: { name: string; aShape: Shape; bShape: Shape; transposeA?: boolean }[] = [
  // m = 37 cuts through 4- and 8-row blocks and 32/64-row tiles; n = 68 through 32/64 columns.
  { name: "37x68x44", aShape: [37, 44], bShape: [44, 68] },
  { name: "batched 2x70x36x20 shared b", aShape: [2, 70, 20], bShape: [20, 36] },
  { name: "transposeB 9x12x8", aShape: [9, 8], bShape: [12, 8] },
  { name: "transposeA 33x20x65", aShape: [65, 33], bShape: [65, 20], transposeA: true },
  { name: "odd 13x7x5", aShape: [13, 5], bShape: [5, 7] },
  // m = 36: the vec4 transposeA path with a half-filled 8-row block.
  { name: "transposeA 36x20x44", aShape: [44, 36], bShape: [44, 20], transposeA: true },
  { name: "transposeA batched 2x12x8x16", aShape: [2, 16, 12], bShape: [16, 8], transposeA: true },
  { name: "transposeB+A 12x8x16", aShape: [16, 12], bShape: [8, 16], transposeA: true },
  // The subgroup kernels: m = 27 and 50 cut through 16/24/32-row blocks; n = 520 needs two
  // 64-wide workgroups of 2 vec4 columns each, the second mostly past the edge.
  { name: "transposeA odd m 27x12x16", aShape: [16, 27], bShape: [16, 12], transposeA: true },
  { name: "wide 50x520x12", aShape: [50, 12], bShape: [12, 520] },
  { name: "transposeB batched 3x26x20x12", aShape: [3, 26, 12], bShape: [3, 20, 12] },
  // The fitted subgroup workgroup: n = 196 runs 2 row groups of 32 lanes, n = 136 2 row groups
  // of 24 lanes (a 48-lane workgroup); m cuts through the last workgroup's row groups.
  { name: "fitted 61x196x8", aShape: [61, 8], bShape: [8, 196] },
  { name: "fitted batched 2x53x136x20", aShape: [2, 53, 20], bShape: [20, 136] },
  // n = 768: two 48-lane workgroups across, none idle; n = 1160 (145 lanes): 8-lane row groups,
  // 8 to a workgroup (7 idle lanes, fewer than any wider fit)
  { name: "fitted 70x768x12", aShape: [70, 12], bShape: [12, 768] },
  { name: "transposeB fitted 75x1160x8", aShape: [75, 8], bShape: [1160, 8] },
  // m = 121 and 124: the 48- and 64-row forms' second lane group with its last blocks partly or
  // wholly past the edge (all 8 blocks of the 64-row form in use)
  { name: "tall 121x36x20", aShape: [121, 20], bShape: [20, 36] },
  { name: "transposeA tall 124x20x16", aShape: [16, 124], bShape: [16, 20], transposeA: true },
];

gpuTest("matmul: every variant agrees with the reference and the others", async () => {
  const random = new Random(11);
  for (const layout of EDGE_LAYOUTS) {
    const transposeB = layout.name.startsWith("transposeB");
    const options: MatmulOptions = {
      transposeA: layout.transposeA,
      transposeB,
      activation: "gelu",
      bias: {} as Tensor,
      residual: {} as Tensor,
    };
    const ref = matmulReference({ aShape: layout.aShape, bShape: layout.bShape, options });
    const sizes = [
      layout.aShape.reduce((x, y) => x * y, 1),
      layout.bShape.reduce((x, y) => x * y, 1),
      ref.n,
      ref.batch * ref.m * ref.n,
    ];
    const hosts = sizes.map((size) => Float64Array.from(Float32Array.from(random.normals(size))));
    const expected = ref.compute(...hosts);
    const [a, b, bias, residual] = [layout.aShape, layout.bShape, [ref.n], ref.outputShape].map(
      (shape, index) => tensor(hosts[index], shape),
    );
    const problem: MatmulProblem = {
      batch: ref.batch,
      m: ref.m,
      n: ref.n,
      k: ref.k,
      transposeA: layout.transposeA ?? false,
      transposeB,
      sharedA: layout.aShape.length === 2,
      sharedB: layout.bShape.length === 2,
    };
    const variants = MATMUL_VARIANTS.filter((variant) => variant.supports(problem));
    assertTrue(variants.length >= 2, `${layout.name}: at least two variants apply`);
    if (hasSubgroupsOfEight() && ref.k % 4 === 0 && ref.n % 4 === 0) {
      assertTrue(
        variants.filter((variant) => variant.kernel === "matmul/subgroup").length >= 3,
        `${layout.name}: the subgroup variants apply`,
      );
    }
    const outputs = variants.map((variant) =>
      matmul(a, b, { ...options, bias, residual, variant: variant.name })
    );
    const values = await readAll(outputs);
    values.forEach((value, index) => {
      const what = `${layout.name} variant ${variants[index].name}`;
      assertClose(value, expected, `${what} vs reference`, TOLERANCE);
      assertClose(value, values[0], `${what} vs ${variants[0].name}`, TOLERANCE);
    });
    for (const t of [a, b, bias, residual, ...outputs]) t.dispose();
  }
});

gpuTest("matmul: gradients through each variant (gelu saves the pre-activation)", async () => {
  const problem = (transposeA: boolean, transposeB: boolean, m: number, n: number, k: number) => ({
    batch: 2,
    m,
    n,
    k,
    transposeA,
    transposeB,
    sharedA: false,
    sharedB: true,
  });
  for (const variant of MATMUL_VARIANTS) {
    if (!variant.supports(problem(false, true, 9, 12, 8))) continue;
    await checkMatmul(`variant ${variant.name}`, [2, 9, 8], [12, 8], {
      transposeB: true,
      bias: true,
      gelu: true,
      residual: true,
      variant: variant.name,
    });
    await checkMatmul(`variant ${variant.name}, transposeA`, [2, 8, 12], [8, 4], {
      transposeA: true,
      gelu: true,
      variant: variant.name,
    });
  }
});

gpuTest(
  "matmul: a large transposed-A product runs as a transposed copy, same values and gradients",
  async () => {
    // 128 x 128 x 256 = TRANSPOSED_COPY_MIN_MULTIPLY_ADDS: the copy path; one row fewer is not
    assertEquals(128 * 128 * 256, TRANSPOSED_COPY_MIN_MULTIPLY_ADDS);
    const { kernels, stop } = watchKernels();
    try {
      await checkMatmul("transposed copy 128x128x256", [256, 128], [256, 128], {
        transposeA: true,
      });
      assertTrue(kernels.includes("shape/permute"), "the large product copies a transposed");
      kernels.length = 0;
      await checkMatmul("tA kernel 127x128x256", [256, 127], [256, 128], { transposeA: true });
      assertTrue(!kernels.includes("shape/permute"), "a smaller product reads a transposed");
      await checkMatmul(
        "transposed copy, batched, transposeB, bias",
        [2, 128, 128],
        [128, 128],
        { transposeA: true, transposeB: true, bias: true },
      );
    } finally {
      stop();
    }
  },
);

// ---------- bad input ----------

gpuTest("matmul: bad input says what failed, with the shapes", () => {
  const a = zeros([2, 3]);
  const b = zeros([4, 5]);
  const batched = zeros([2, 3, 4]);
  const otherBatch = zeros([3, 4, 5]);
  const vector = zeros([3]);
  assertThrows(
    () => matmul(a, b),
    ShapeError,
    "matmul: inner sizes differ: a [2, 3] x b [4, 5] (3 vs 4)",
  );
  assertThrows(() => matmul(vector, b), ShapeError, "matmul: operands need rank >= 2: a [3]");
  assertThrows(
    () => matmul(batched, otherBatch),
    ShapeError,
    "matmul: batch dims differ: a [2, 3, 4] x b [3, 4, 5] ([2] vs [3])",
  );
  assertThrows(
    () => matmul(batched, b, { bias: vector }),
    ShapeError,
    "matmul: bias shape [3] f32 does not fit a [2, 3, 4] x b [4, 5] (want [5] f32)",
  );
  assertThrows(
    () => matmul(batched, b, { residual: a }),
    ShapeError,
    "residual shape [2, 3] f32 does not fit a [2, 3, 4] x b [4, 5] (want [2, 3, 5] f32)",
  );
  assertThrows(() => matmul(a, b, { transposeA: true }), ShapeError, "(2 vs 4)");
  const odd = zeros([3, 5]);
  assertThrows(() => matmul(a, odd, { variant: "nope" }), ShapeError, 'unknown variant "nope"');
  assertThrows(
    () => matmul(a, odd, { variant: MATMUL_VARIANTS[0].name }),
    ShapeError,
    "does not support [2, 3] x [3, 5]",
  );
  assertThrows(() => linear(vector, b), ShapeError, "linear: want x [..., in] of rank >= 2");
  for (const t of [a, b, batched, otherBatch, vector, odd]) t.dispose();
});
