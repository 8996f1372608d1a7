// The matmul autotuner (src/ops/matmul/tuning.ts) and the choice it feeds (choice.ts): timings,
// the cache file, the order variants are tried in, the products a body runs, the transposed copy.
import { assertEquals, assertTrue } from "../helpers/assert.ts";
import { asHardwareAdapter, gpuTest, watchKernels } from "../helpers/gpu_test.ts";
import { sharedProduct } from "../helpers/matmul_problem.ts";
import { matmul } from "../../src/ops/matmul/forward.ts";
import {
  chooseMatmulVariant,
  choosesTransposedCopy,
  clearMatmulTuning,
  collectMatmulProblems,
  defaultMatmulVariant,
  shapeClass,
  subgroupRows,
  TRANSPOSED_COPY,
} from "../../src/ops/matmul/choice.ts";
import { tuneMatmul } from "../../src/ops/matmul/tuning.ts";
import { gpu } from "../../src/gpu/device.ts";
import {
  hasSubgroupsOfEight,
  MATMUL_VARIANTS,
  type MatmulProblem,
} from "../../src/ops/matmul/variants.ts";
import { tensor, zeros } from "../../src/tensor/tensor.ts";

gpuTest("matmul: tuning times the variants and matmul then uses the fastest", async () => {
  // The cache folder is process-wide: set for this test only (later modules' GPU drivers read it).
  const previous = Deno.env.get("XDG_CACHE_HOME");
  Deno.env.set("XDG_CACHE_HOME", await Deno.makeTempDir());
  try {
    await checkTuning();
  } finally {
    if (previous === undefined) Deno.env.delete("XDG_CACHE_HOME");
    else Deno.env.set("XDG_CACHE_HOME", previous);
  }
});

async function checkTuning() {
  // a budget no loaded machine exhausts (pipeline compiles count against it: with 400 ms, a
  // load average above 9 left only one variant timed); each variant still times at most 64 launches
  const result = await tuneMatmul(64, 64, 64, { budgetMs: 60_000 });
  assertTrue(result.timings.length >= 4, "every applicable variant is timed");
  for (let i = 1; i < result.timings.length; i++) {
    assertTrue(result.timings[i - 1].milliseconds <= result.timings[i].milliseconds);
  }
  assertTrue(result.timings.every((timing) => timing.gflops > 0));
  assertEquals(result.variant, result.timings[0].variant);
  const problem = sharedProduct(60, 64, 48);
  assertEquals(shapeClass(problem), result.shapeClass);
  assertEquals(chooseMatmulVariant(problem).name, result.variant);
  const file = `${Deno.env.get("XDG_CACHE_HOME")}/dinogpu/matmul_tuning.json`;
  const saved = JSON.parse(await Deno.readTextFile(file));
  const entries = Object.values(saved) as Record<string, { variant: string }>[];
  assertEquals(entries[0][result.shapeClass].variant, result.variant);
}

gpuTest("matmul: tuning tries the untuned default first (a spent budget keeps it)", async () => {
  // 8 rows: the default is a vec4 kernel, not the first of MATMUL_VARIANTS
  const fallback = defaultMatmulVariant(sharedProduct(8, 64, 64)).name;
  assertTrue(fallback !== MATMUL_VARIANTS[0].name, fallback);
  const result = await tuneMatmul(8, 64, 64, { budgetMs: 0, remember: false });
  assertEquals(result.timings.length, 1);
  assertEquals(result.variant, fallback);
});

gpuTest("matmul: the default for a large product is the subgroup kernel where it applies", () => {
  const problem = sharedProduct(1024, 1024, 1024);
  if (!gpu().softwareAdapter) return; // see the next test
  const subgroup = (name: string) => hasSubgroupsOfEight() ? name : "vec4-r8-8x8";
  const cases: [Partial<MatmulProblem>, string][] = [
    [{}, subgroup("subgroup-r64x8-fit")],
    [{ m: 20 }, subgroup("subgroup-r16x8-64")],
    [{ n: 256 }, subgroup("subgroup-r64x8-fit")],
    [{ m: 4352, n: 64, k: 256, transposeB: true }, subgroup("subgroup-r32x8-fit")],
    [{ m: 96, n: 65536, k: 256, transposeB: true }, subgroup("subgroup-r48x8-fit")],
    [{ m: 3152, n: 1152, k: 384 }, subgroup("subgroup-r64x8-fit")],
  ];
  for (const [change, expected] of cases) {
    assertEquals(
      defaultMatmulVariant({ ...problem, ...change }).name,
      expected,
      JSON.stringify(change),
    );
  }
  assertEquals(defaultMatmulVariant({ ...problem, k: 1022 }).name, "tiled-32x32x16");
  assertEquals(defaultMatmulVariant({ ...problem, m: 3, n: 5, k: 7 }).name, "scalar-4x4");
});

Deno.test("subgroupRows: 16 under 48 rows, 32 under K or N 256, else the most rows that pad M little", () => {
  const problem = sharedProduct(1024, 384, 1024);
  const rows = (m: number, k = 1024) => subgroupRows({ ...problem, m, k });
  assertEquals([rows(20), rows(47)], [16, 16]);
  assertEquals([rows(4352, 64), rows(6304, 255)], [32, 32]);
  assertEquals(subgroupRows({ ...problem, m: 4352, n: 64 }), 32);
  // 6304 rows pad 32 with 64-row groups (1/197 of M), 1536 none
  assertEquals([rows(6304), rows(1536), rows(256)], [64, 64, 64]);
  // 96: 64-row groups would pad a third; 48 none. 80: 32 pads 16, 48 pads 16, 64 pads 48
  assertEquals([rows(96), rows(80)], [48, 48]);
  // 112: 32 pads 16, 48 pads 32, 64 pads 16: the most rows among the least padding
  assertEquals(rows(112), 64);
});

gpuTest("matmul: on a GPU (not a software adapter) the default is the 16x4 vec4 kernel", () => {
  const problem = sharedProduct(1024, 1024, 1024);
  return asHardwareAdapter(() => {
    for (const shape of [problem, { ...problem, m: 20 }, { ...problem, m: 3152, n: 1152 }]) {
      assertEquals(defaultMatmulVariant(shape).name, "vec4-r8-16x4");
    }
    assertEquals(defaultMatmulVariant({ ...problem, m: 4 }).name, "vec4-r4-8x8");
    assertEquals(defaultMatmulVariant({ ...problem, k: 1022 }).name, "tiled-32x32x16");
  });
});

gpuTest("collectMatmulProblems: the products a body runs, one per shape class", () => {
  const a = tensor(new Float32Array(8 * 4), [8, 4]);
  const b = tensor(new Float32Array(4 * 12), [4, 12]);
  const { result, problems } = collectMatmulProblems(() => {
    matmul(a, b).dispose();
    matmul(a, b).dispose(); // the same class again
    return matmul(b, a, { transposeA: true, transposeB: true });
  });
  assertEquals(result.shape, [12, 8]);
  assertEquals(
    problems.map(({ m, n, k, transposeA, transposeB }) => [m, n, k, transposeA, transposeB]),
    [[8, 12, 4, false, false], [12, 8, 4, true, true]],
  );
  for (const value of [a, b, result]) value.dispose();
});

gpuTest("matmul: tuning weighs the transposed copy against the transposed-A kernels", async () => {
  const previous = Deno.env.get("XDG_CACHE_HOME");
  Deno.env.set("XDG_CACHE_HOME", await Deno.makeTempDir());
  clearMatmulTuning();
  const { kernels, stop } = watchKernels();
  // the kernels a transposed-A product of a [k, m] and b [k, n] launches
  const launched = (m: number, n: number, k: number) => {
    kernels.length = 0;
    const a = zeros([k, m]);
    const b = zeros([k, n]);
    matmul(a, b, { transposeA: true }).dispose();
    a.dispose();
    b.dispose();
    return [...kernels];
  };
  const problem = sharedProduct(128, 128, 256, { transposeA: true });
  try {
    // untuned, by size: 128 x 128 x 256 copies, 124 rows (the same shape class) do not
    assertTrue(launched(128, 128, 256).includes("shape/permute"));
    assertTrue(!launched(124, 128, 256).includes("shape/permute"));
    const all = await tuneMatmul(128, 128, 256, { transposeA: true, budgetMs: 60_000 });
    const names = all.timings.map((timing) => timing.variant);
    assertTrue(names.includes(TRANSPOSED_COPY) && names.length >= 3, names.join(", "));
    assertTrue(all.timings.every((timing) => timing.gflops > 0));
    assertEquals(choosesTransposedCopy(problem), all.variant === TRANSPOSED_COPY);
    // tuned to the kernels alone: even the large product reads a transposed
    const direct = await tuneMatmul(128, 128, 256, { transposeA: true, transposedCopy: false });
    assertTrue(direct.variant !== TRANSPOSED_COPY);
    assertTrue(!launched(128, 128, 256).includes("shape/permute"));
    // tuned to the copy alone: a smaller product of the same class copies too
    const copy = await tuneMatmul(128, 128, 256, { transposeA: true, variants: [] });
    assertEquals(copy.timings.map((timing) => timing.variant), [TRANSPOSED_COPY]);
    assertTrue(launched(124, 128, 256).includes("shape/permute"));
  } finally {
    stop();
    clearMatmulTuning();
    if (previous === undefined) Deno.env.delete("XDG_CACHE_HOME");
    else Deno.env.set("XDG_CACHE_HOME", previous);
  }
});
