/**
 * Every matmul variant at 256^3, 1024^3 and a ViT-S/16 qkv projection ((B * 197) x 384 -> 1152,
 * B = 16). Each iteration waits for the GPU (`gpu().sync()`), so times are real. Variants that
 * do not support a shape are left out; the baseline of each group is the variant matmul uses
 * without tuning; "f16 operands" is the same product on f16 copies of a and b (`cast`; the
 * variant matmul picks for them, f32 sums). "weight gradient" is a ViT-S/16 fc1 weight's gradient
 * dZ^T X (1536 x 384 x 16 * 197 * 2, a stored [K, M]) read transposed by its kernel (the
 * baseline) and as matmul runs it, a transposed copy and the plain product. The side-by-side
 * comparison with TF.js is bench/tfjs_matmul.ts. On software rendering (llvmpipe) the large cases take
 * seconds per iteration; MATMUL_BENCH_SIZES=256 keeps only the small one.
 * @module
 */
import { gpu, initGpu } from "../src/gpu/device.ts";
import { cast } from "../src/ops/cast/forward.ts";
import { matmul, matmulGeometry } from "../src/ops/matmul/forward.ts";
import { MATMUL_VARIANTS, type MatmulProblem } from "../src/ops/matmul/variants.ts";
import { chooseMatmulVariant, defaultMatmulVariant } from "../src/ops/matmul/choice.ts";
import { tensor } from "../src/tensor/tensor.ts";
import { randomValues } from "./random_values.ts";

await initGpu();

const cases = [
  { label: "256^3", m: 256, n: 256, k: 256 },
  { label: "1024^3", m: 1024, n: 1024, k: 1024 },
  { label: "ViT-S qkv (16*197)x1152x384", m: 16 * 197, n: 1152, k: 384 },
];
const wanted = Deno.env.get("MATMUL_BENCH_SIZES")?.split(",");

for (const { label, m, n, k } of cases) {
  if (wanted && !wanted.some((size) => label.startsWith(size))) continue;
  const a = tensor(randomValues(m * k, 1), [m, k]);
  const b = tensor(randomValues(k * n, 2), [k, n]);
  const problem: MatmulProblem = {
    batch: 1,
    m,
    n,
    k,
    transposeA: false,
    transposeB: false,
    sharedA: true,
    sharedB: true,
  };
  const large = m * n * k > 1e8;
  const fallback = defaultMatmulVariant(problem).name;
  MATMUL_VARIANTS.filter((variant) => variant.supports(problem)).forEach((variant) => {
    Deno.bench(`matmul ${label} ${variant.name}`, {
      group: label,
      baseline: variant.name === fallback, // the variant matmul uses untuned
      n: large ? 3 : undefined,
      warmup: large ? 1 : undefined,
    }, async () => {
      matmul(a, b, { variant: variant.name }).dispose();
      await gpu().sync();
    });
  });
  const [halfA, halfB] = [cast(a, "f16"), cast(b, "f16")];
  Deno.bench(`matmul ${label} f16 operands`, {
    group: label,
    n: large ? 3 : undefined,
    warmup: large ? 1 : undefined,
  }, async () => {
    matmul(halfA, halfB).dispose();
    await gpu().sync();
  });
}

if (!wanted || wanted.some((size) => "weight gradient".startsWith(size))) {
  const [rows, m, n] = [16 * 197 * 2, 1536, 384];
  const gradient = tensor(randomValues(rows * m, 3), [rows, m]);
  const input = tensor(randomValues(rows * n, 4), [rows, n]);
  const kernel =
    chooseMatmulVariant(matmulGeometry(gradient, input, { transposeA: true }).problem).name;
  const label = `weight gradient ${m}x${n}x${rows} tA`;
  for (
    const [name, options] of [
      [`${kernel} reading a transposed`, { transposeA: true, variant: kernel }],
      ["transposed copy + plain product", { transposeA: true }],
    ] as const
  ) {
    Deno.bench(`matmul ${label} ${name}`, {
      group: label,
      baseline: "variant" in options,
      n: 3,
      warmup: 1,
    }, async () => {
      matmul(gradient, input, options).dispose();
      await gpu().sync();
    });
  }
}
