// The high-resolution phase (`highResSize`, `highResSteps`): its schedules against DINOv3's
// `high_res_adapt` formula, its phase and local size, the one-time position-embedding
// interpolation, and a run that enters it, extends a finished run and resumes inside it exactly.
import { join } from "node:path";
import { loadModel } from "../../src/io/pretrained/load.ts";
import { VisionTransformer } from "../../src/nn/vit.ts";
import { readAll, tensor } from "../../src/tensor/tensor.ts";
import { readCheckpointInfo } from "../../src/train/checkpoint.ts";
import { DINO_DEFAULTS, type DinoTrainConfig } from "../../src/train/config.ts";
import {
  highResLocalSize,
  phaseAt,
  resolutionPhases,
  runSteps,
} from "../../src/train/curriculum.ts";
import { runDinoTraining } from "../../src/train/run.ts";
import { dinoSchedules, highResLrSchedule } from "../../src/train/schedules.ts";
import { ConfigError, resolveConfig } from "../../src/train/validate.ts";
import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { tinyConfig, tinyTrain } from "../helpers/tiny_dino.ts";
import { assertClose } from "../helpers/op_check.ts";

Deno.test("high-res phase: learning rate as DINOv3's high_res_adapt schedules it", () => {
  // numpy, dinov3/train/cosine_lr_scheduler.py's linear_warmup_cosine_decay(start=0, peak=0,
  // end=1.25e-5, warmup_iterations=0, total_iterations=30, cosine_iterations=10)[:12]
  const official = [
    0.0,
    3.769211200880729e-07,
    1.4622222305063873e-06,
    3.1249999999999997e-06,
    5.164698889581684e-06,
    7.335301110418315e-06,
    9.375e-06,
    1.1037777769493612e-05,
    1.2123078879911928e-05,
    1.25e-05,
    1.25e-05,
    1.25e-05,
  ];
  const ours = highResLrSchedule(1.25e-5, 30);
  assertEquals(ours.length, 30);
  for (let i = 0; i < official.length; i++) {
    assertTrue(Math.abs(ours[i] - official[i]) < 1e-18, `step ${i}: ${ours[i]} vs ${official[i]}`);
  }
  assertEquals(ours[29], 1.25e-5);
  assertEquals(Array.from(highResLrSchedule(2, 2)), [0, 2]);
});

Deno.test("high-res phase: schedules, phases and local size follow the run's epochs", () => {
  const config = resolveConfig(DINO_DEFAULTS, {
    epochs: 2,
    warmupEpochs: 0,
    lr: 0.001,
    batchSize: 256,
    minLr: 1e-6,
    momentumTeacher: 0.99,
    weightDecay: 0.04,
    weightDecayEnd: 0.2,
    globalSize: 21,
    localSize: 7,
    patchSize: 7,
    imageSize: 28,
    localCrops: 2,
    highResSize: 42,
    highResSteps: 6,
  });
  const stepsPerEpoch = 5;
  assertEquals(runSteps(config, stepsPerEpoch), 16);
  const schedules = dinoSchedules(config, stepsPerEpoch);
  assertEquals(schedules.lr.length, 16);
  // the run's own schedules are untouched by the phase after them
  const without = dinoSchedules({ ...config, highResSize: 0 }, stepsPerEpoch);
  assertEquals(Array.from(schedules.lr.slice(0, 10)), Array.from(without.lr));
  assertEquals(Array.from(schedules.momentum.slice(0, 10)), Array.from(without.momentum));
  assertEquals(Array.from(schedules.lr.slice(10)), [
    0,
    0.00025,
    0.00025,
    0.00025,
    0.00025,
    0.00025,
  ]);
  assertEquals(Array.from(schedules.weightDecay.slice(10)), new Array(6).fill(0.2));
  assertEquals(Array.from(schedules.momentum.slice(10)), new Array(6).fill(0.999));
  const phases = resolutionPhases(config, config.epochs * stepsPerEpoch);
  assertEquals(phases.length, 2);
  assertEquals(phases[1], { startStep: 10, globalSize: 42, localSize: 14, highRes: true });
  assertEquals(phaseAt(phases, 9), 0);
  assertEquals(phaseAt(phases, 10), 1);
  assertEquals(highResLocalSize({ ...config, highResLocalSize: 21 }), 21);
  // without a phase nothing changes
  const plain = { ...config, highResSize: 0 };
  assertEquals(runSteps(plain, stepsPerEpoch), 10);
  assertEquals(resolutionPhases(plain, 10).length, 1);
});

Deno.test("high-res phase: sizes off the patch grid and bad fractions are refused", () => {
  const base = { patchSize: 7, globalSize: 21, imageSize: 28, localSize: 14 };
  const refused: [Record<string, unknown>, string][] = [
    [{ highResSize: 30, highResSteps: 5 }, "highResSize 30 is not a multiple of patchSize 7"],
    [{ highResSize: 28, highResSteps: 0 }, "highResSteps must be a whole number > 0"],
    [{ highResSize: 28, highResSteps: 5, highResLrFraction: 2 }, "highResLrFraction"],
    [
      { arch: "mixer", localCrops: 0, highResSize: 35, highResSteps: 5 },
      "whole multiple of 21",
    ],
  ];
  for (const [fields, message] of refused) {
    assertThrows(() => resolveConfig(DINO_DEFAULTS, { ...base, ...fields }), ConfigError, message);
  }
});

gpuTest(
  "high-res phase: the position embedding is interpolated once, the function kept",
  async () => {
    const vit = new VisionTransformer({
      imageSize: 12,
      patchSize: 4,
      embedDim: 8,
      depth: 1,
      heads: 2,
      seed: 5,
    });
    vit.eval();
    const pixels = Float32Array.from({ length: 2 * 3 * 24 * 24 }, (_, i) => Math.sin(i * 0.37));
    const images = tensor(pixels, [2, 3, 24, 24]);
    const [onTheFly, before] = await readAll([
      vit.positionEmbedding(6, 6),
      vit.forward(images).patches,
    ]);
    assertEquals(vit.positionGrid, 3);
    assertTrue(vit.resizePositionEmbedding(6));
    assertEquals(vit.positionGrid, 6);
    assertEquals(vit.config.imageSize, 24);
    assertTrue(!vit.resizePositionEmbedding(6), "a second resize to the same grid does nothing");
    const stored = vit.namedParameters().find(([name]) => name === "pos_embed")![1];
    assertTrue(stored.requiresGrad, "the resized embedding is still trained");
    const [kept, after] = await readAll([stored, vit.forward(images).patches]);
    assertEquals(Array.from(kept), Array.from(onTheFly));
    assertClose(after, before, "patch tokens after the resize");
    images.dispose();
    vit.dispose();
  },
);

/** The tiny run of tests/helpers/tiny_dino.ts at 8 px global crops, one epoch. */
function tinyRun(out: string, overrides: Partial<DinoTrainConfig>): DinoTrainConfig {
  return tinyConfig(out, {
    patchSize: 4,
    epochs: 1,
    warmupEpochs: 0,
    globalSize: 8,
    localCrops: 1,
    localSize: 4,
    freezeLastLayer: 0,
    dropPathRate: 0,
    ...overrides,
  });
}

gpuTest(
  "high-res phase: a run enters it, a finished run is extended by it, a resume inside it is exact",
  async () => {
    const dir = await Deno.makeTempDir();
    const phase = { highResSize: 16, highResSteps: 4 };
    try {
      const messages: string[] = [];
      // the tiny run's 7 steps of batch 8, then 4 at 16 px
      const straight = await runDinoTraining({
        config: tinyRun(join(dir, "straight"), phase),
        train: tinyTrain,
        onMessage: (m) => messages.push(m),
      });
      assertEquals(straight.steps, 11);
      assertTrue(
        messages.some((m) => m.includes("step 7: resolution phase 1, global crops 16 px")),
        messages.join("\n"),
      );
      const model = await loadModel(join(dir, "straight"));
      assertEquals((model.model as VisionTransformer).positionGrid, 4);
      model.model.dispose();
      const info = await readCheckpointInfo(join(dir, "straight"));
      assertEquals(info.phase, 1);

      // a finished run without the phase, extended by it
      const finished = join(dir, "finished");
      await runDinoTraining({ config: tinyRun(finished, {}), train: tinyTrain });
      const extended = await runDinoTraining({
        config: tinyRun(finished, phase),
        train: tinyTrain,
        resume: finished,
      });
      // and a run stopped inside the phase, resumed
      const split = join(dir, "split");
      await runDinoTraining({
        config: tinyRun(split, { ...phase, maxSteps: 9 }),
        train: tinyTrain,
      });
      const resumed = await runDinoTraining({
        config: tinyRun(split, phase),
        train: tinyTrain,
        resume: split,
      });
      for (const step of [8, 9, 10, 11]) {
        const expected = straight.losses.get(step);
        assertTrue(expected !== undefined && Number.isFinite(expected));
        assertEquals(extended.losses.get(step), expected, `loss at step ${step}, extended run`);
        if (step > 9) {
          assertEquals(resumed.losses.get(step), expected, `loss at step ${step} after resuming`);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
