/**
 * Training at precision f16 (config key `precision`): student and teacher compute their Linear
 * products on f16 operands, the steps replay, and the losses follow the f32 run's closely; a bad
 * value is refused by name.
 */
import { assertEquals, assertThrows, assertTrue as assert } from "../helpers/assert.ts";
import { DINO_DEFAULTS } from "../../src/train/config.ts";
import { DinoTrainer } from "../../src/train/dino_trainer.ts";
import { ConfigError, resolveConfig } from "../../src/train/validate.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { syntheticBatches, tinyStepConfig, trainSteps } from "../helpers/tiny_dino.ts";

gpuTest("train precision f16: networks at f16, replayed steps, losses near f32's", async () => {
  const batches = await syntheticBatches(8, 4);
  const config = tinyStepConfig({ dropPathRate: 0 });
  const full = await trainSteps(config, true, batches, ["loss"]);
  const half = await trainSteps({ ...config, precision: "f16" }, true, batches, ["loss"]);
  assertEquals(half.failure, undefined);
  assert(half.replayed > 0, "the f16 steps were replayed");
  for (const [step, [loss]] of half.monitors.entries()) {
    const expected = full.monitors[step][0];
    assert(Number.isFinite(loss), `step ${step}: loss ${loss}`);
    assert(
      Math.abs(loss - expected) <= 1e-2 * Math.abs(expected),
      `step ${step}: f16 loss ${loss} against f32 ${expected}`,
    );
  }
  const trainer = new DinoTrainer({ ...config, precision: "f16" }, 4);
  assertEquals([trainer.student.precision, trainer.teacher.precision], ["f16", "f16"]);
  trainer.dispose();
});

Deno.test("train precision: other values are refused by name", () => {
  assertThrows(
    () => resolveConfig(DINO_DEFAULTS, { precision: "bf16" as "f16" }),
    ConfigError,
    'config key "precision" must be "f32" or "f16", got "bf16"',
  );
});
