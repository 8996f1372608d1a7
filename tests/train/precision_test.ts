/**
 * Training at precision f16 (config key `precision`): student and teacher compute their Linear
 * products on f16 operands, the steps replay, and the losses follow the f32 run's closely; a bad
 * value is refused by name.
 */
import { assertEquals, assertThrows, assertTrue as assert } from "../helpers/assert.ts";
import { fillBuffer, readAll } from "../../src/tensor/tensor.ts";
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

gpuTest(
  "train precision f16: a step that overflows f16 is skipped, the next one trains",
  async () => {
    const batches = await syntheticBatches(2, 4);
    const trainer = new DinoTrainer(tinyStepConfig({ dropPathRate: 0, precision: "f16" }), 4);
    // a LayerNorm weight of 1e5 puts values past f16's largest (65504) into the Linear after it
    const [name, weight] = trainer.student.namedParameters().find(([key]) =>
      key.endsWith("norm1.weight")
    )!;
    fillBuffer(weight.buffer, weight.size, 1e5);
    const before = await readAll(trainer.student.parameters());
    const centreBefore = await trainer.loss.center.read();
    const first = trainer.trainStep(batches[0]);
    const [loss, skipped] = await readAll([first.loss, first.skippedSteps]);
    assert(!Number.isFinite(loss[0]), `${name} at 1e5: loss ${loss[0]} should not be finite`);
    assertEquals(Array.from(skipped), [1, 1]);
    const after = await readAll(trainer.student.parameters());
    after.forEach((values, index) =>
      assertEquals(Array.from(values), Array.from(before[index]), `student parameter ${index}`)
    );
    assertEquals(Array.from(await trainer.loss.center.read()), Array.from(centreBefore));
    for (const value of Object.values(first)) value.dispose();

    fillBuffer(weight.buffer, weight.size, 1);
    const second = trainer.trainStep(batches[1]);
    const [goodLoss, counts] = await readAll([second.loss, second.skippedSteps]);
    assert(Number.isFinite(goodLoss[0]), `loss ${goodLoss[0]} after the weight is restored`);
    assertEquals(Array.from(counts), [1, 0]);
    const trained = await readAll(trainer.student.parameters());
    assert(
      trained.some((values, index) => values.some((value, at) => value !== after[index][at])),
      "the step after the skipped one changed the student",
    );
    assert(trained.every((values) => values.every(Number.isFinite)), "the student stays finite");
    for (const value of Object.values(second)) value.dispose();
    trainer.dispose();
  },
);

Deno.test("train precision: other values are refused by name", () => {
  assertThrows(
    () => resolveConfig(DINO_DEFAULTS, { precision: "bf16" as "f16" }),
    ConfigError,
    'config key "precision" must be "f32" or "f16", got "bf16"',
  );
});
