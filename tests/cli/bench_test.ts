/**
 * `dinogpu bench`: the matmul, inference and training-step benchmarks return their figures (on a
 * tiny model, so the test stays short) and refuse unknown architectures.
 */
import { assertEquals, assertRejects, assertThrows, assertTrue } from "../helpers/assert.ts";
import { benchCommand, benchMatmul } from "../../cli/commands/bench.ts";
import { benchModel, benchModelCommand } from "../../cli/commands/bench_model.ts";
import { runCommands } from "../helpers/cli.ts";
import { benchTrainStep } from "../../cli/commands/bench_train.ts";
import { UserError } from "../../cli/run.ts";
import { gpu } from "../../src/gpu/device.ts";
import { precisionFlag } from "../../cli/shared.ts";
import { matmulVariant } from "../../src/ops/matmul/variants.ts";
import { gpuTest } from "../helpers/gpu_test.ts";

gpuTest("bench matmul times every variant of a weight-gradient product", async () => {
  const result = await benchMatmul({ m: 64, n: 32, k: 128, transposeA: true, rounds: 1 });
  assertEquals(result.transposeA, true);
  assertTrue((result.gflops as number) > 0, `gflops ${result.gflops}`);
  assertTrue(Object.keys(result.variants as object).length >= 2, "several variants timed");
});

gpuTest("bench matmul --f16 times only the variants with an f16 form", async () => {
  const result = await benchMatmul({ m: 64, n: 32, k: 128, f16: true, rounds: 1 });
  assertEquals(result.f16, true);
  const timed = Object.keys(result.variants as object);
  assertTrue(
    timed.length >= 3 && timed.every((name) => matmulVariant(name).f16Kernel !== undefined),
    `f16 variants: ${timed.join(", ")}`,
  );
  await assertRejects(
    () => benchMatmul({ m: 64, n: 32, k: 128, f16: true, variant: "tiled-32x32x16" }),
    UserError,
    "does not support this product on f16 operands",
  );
});

gpuTest("bench model times inference batches of a ViT", async () => {
  const result = await benchModel({
    arch: "vit_tiny",
    patch: 16,
    size: 32,
    batch: 2,
    iterations: 2,
  });
  assertEquals(result.iterations, 2);
  assertTrue((result.imagesPerSecond as number) > 0 && (result.peakGpuBytes as number) > 0);
});

gpuTest("bench model --precision f16 runs the Linear layers on f16 operands", async () => {
  const result = await benchModel({
    arch: "vit_tiny",
    patch: 16,
    size: 32,
    batch: 2,
    iterations: 1,
    precision: "f16",
  });
  assertEquals(result.precision, "f16");
  assertTrue((result.imagesPerSecond as number) > 0);
  if (gpu().has("timestamp-query")) {
    const profiled = await benchModel({
      arch: "vit_tiny",
      patch: 16,
      size: 64,
      batch: 2,
      iterations: 1,
      precision: "f16",
      profile: true,
    });
    const names = (profiled.kernels as { name: string }[]).map((time) => time.name);
    assertTrue(
      names.some((name) => /^matmul\/(subgroup|vec4)_f16/.test(name)),
      `the f16 products are profiled: ${names.join(", ")}`,
    );
    assertTrue(names.some((name) => name.startsWith("cast/cast:to_f16")), "the casts too");
  }
  assertThrows(() => precisionFlag("bf16"), UserError, "--precision must be f32 or f16");
});

gpuTest("bench model --train times replayed DINO steps with local crops", async () => {
  const tinyStep = {
    arch: "vit_tiny",
    patch: 16,
    size: 32,
    batch: 2,
    localCrops: 2,
    localSize: 16,
    outDim: 256,
  };
  const result = await benchTrainStep({ ...tinyStep, iterations: 2 });
  assertEquals(result.iterations, 2);
  assertEquals(result.replayed, true, "the step was recorded and could be replayed");
  const half = await benchTrainStep({ ...tinyStep, iterations: 1, precision: "f16" });
  assertEquals([half.precision, half.replayed], ["f16", true]);
  assertTrue((result.imagesPerSecond as number) > 0 && (result.peakGpuBytes as number) > 0);
  await assertRejects(
    () => benchTrainStep({ arch: "resnet50", patch: 16, size: 32, batch: 2 }),
    UserError,
    '--arch must be vit_tiny|vit_small|vit_base|vit_large or mixer_s16|mixer_s32|mixer_b16|mixer_b32|mixer_l16, got "resnet50"',
  );
});

Deno.test("bench model --tune without --train is refused", async () => {
  await assertRejects(
    () =>
      runCommands([benchCommand().addCommand(benchModelCommand())], ["bench", "model", "--tune"]),
    UserError,
    "bench model: --tune tunes a training step's products; add --train",
  );
});
