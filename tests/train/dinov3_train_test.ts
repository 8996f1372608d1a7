// DINOv3-style training (issue 21 item 4): a ViT with RoPE (coordinates augmented), storage tokens,
// LayerScale and SwiGLU
// trains with DINO + iBOT + KoLeo + Gram anchoring; replayed steps equal steps that run the code,
// the Gram loss starts at gramStartStep, and a run stopped and resumed gives the same losses
// (the Gram teacher and iBOT's centre are in the checkpoint).
import { join } from "node:path";
import assert from "node:assert";
import type { Batch } from "../../src/data/loader.ts";
import { syntheticDataset } from "../../src/data/synthetic.ts";
import { VisionTransformer } from "../../src/nn/vit.ts";
import { readAll } from "../../src/tensor/tensor.ts";
import { DINO_DEFAULTS, type DinoTrainConfig } from "../../src/train/config.ts";
import { DinoTrainer } from "../../src/train/dino_trainer.ts";
import { runDinoTraining } from "../../src/train/run.ts";
import { ConfigError, resolveConfig } from "../../src/train/validate.ts";
import { loadModel } from "../../src/io/pretrained/load.ts";
import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { syntheticBatches, tinyDinoConfig } from "../helpers/tiny_dino.ts";

function dinov3Config(overrides: Partial<DinoTrainConfig> = {}): DinoTrainConfig {
  return tinyDinoConfig({
    patchSize: 4,
    depth: 2,
    batchSize: 4,
    epochs: 1,
    warmupEpochs: 0,
    dropPathRate: 0,
    freezeLastLayer: 0,
    positionEmbedding: "rope",
    ropeCoordinateAugmentation: [0.1, 1.2, 2],
    registers: 2,
    layerScaleInit: 0.1,
    feedForward: "swiglu",
    koleoLossWeight: 0.1,
    centering: "sinkhorn",
    gramLossWeight: 1,
    gramStartStep: 2,
    gramUpdateEvery: 2,
    logEvery: 1,
    ...overrides,
  });
}

async function runSteps(config: DinoTrainConfig, replay: boolean, batches: Batch[]) {
  const trainer = new DinoTrainer(config, batches.length);
  trainer.replay = replay;
  const losses: number[] = [];
  const gram: (number | undefined)[] = [];
  for (const batch of batches) {
    const result = trainer.trainStep(batch);
    const [loss] = await readAll([result.loss]);
    losses.push(loss[0]);
    gram.push(result.gramLoss ? (await readAll([result.gramLoss]))[0][0] : undefined);
    for (const value of Object.values(result)) value.dispose();
  }
  const backbone = trainer.student.backbone;
  const replayed = trainer.replayedSteps;
  const summary = {
    losses,
    gram,
    replayed,
    rope: backbone instanceof VisionTransformer && backbone.config.positionEmbedding === "rope",
    registers: backbone instanceof VisionTransformer ? backbone.config.registers : -1,
  };
  trainer.dispose();
  return summary;
}

gpuTest(
  "DINOv3 training: RoPE, storage tokens, SwiGLU and the Gram loss replay exactly",
  async () => {
    const config = dinov3Config();
    const batches = await syntheticBatches(6, config.batchSize);
    const replayed = await runSteps(config, true, batches);
    const plain = await runSteps(config, false, batches);
    assertTrue(replayed.rope, "the student uses RoPE");
    assertEquals(replayed.registers, 2);
    assertTrue(replayed.replayed > 0, "no step was replayed");
    replayed.losses.forEach((loss, step) => {
      const reference = plain.losses[step];
      assert(
        Math.abs(loss - reference) <= 1e-5 * Math.max(1, Math.abs(reference)),
        `step ${step + 1}: replayed loss ${loss}, re-run ${reference}`,
      );
      assert(Number.isFinite(loss), `step ${step + 1}: loss ${loss}`);
    });
    // the Gram loss is off before gramStartStep (2 steps taken) and on from then
    assertEquals(replayed.gram.slice(0, 2), [undefined, undefined]);
    for (const [step, value] of replayed.gram.entries()) {
      if (step < 2) continue;
      assertTrue(value !== undefined && Number.isFinite(value) && value >= 0, `gram at ${step}`);
      const reference = plain.gram[step]!;
      assert(Math.abs(value! - reference) <= 1e-5 * Math.max(1, reference), `gram at ${step}`);
    }
    // right after a refresh the Gram teacher is the EMA teacher, which the student has just left:
    // a small but non-zero loss
    assertTrue(replayed.gram[2]! > 0, `gram loss at its first step: ${replayed.gram[2]}`);
  },
);

gpuTest("DINOv3 training: a run stopped and resumed gives the same losses", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = syntheticDataset({ count: 40, size: 16, seed: 5 });
    const settings = { ibotLossWeight: 1, epochs: 2, gramStartStep: 3, gramUpdateEvery: 3 };
    const straight = await runDinoTraining({
      config: dinov3Config({ ...settings, out: join(dir, "straight"), maxSteps: 8 }),
      train: data,
    });
    await runDinoTraining({
      config: dinov3Config({ ...settings, out: join(dir, "split"), maxSteps: 4 }),
      train: data,
    });
    const resumed = await runDinoTraining({
      config: dinov3Config({ ...settings, out: join(dir, "split"), maxSteps: 8 }),
      train: data,
      resume: join(dir, "split"),
    });
    for (let step = 5; step <= 8; step++) {
      const expected = straight.losses.get(step);
      assertTrue(expected !== undefined && Number.isFinite(expected), `no loss at step ${step}`);
      assertEquals(resumed.losses.get(step), expected, `loss at step ${step} after resuming`);
    }
    // the run's weights load as a model anywhere a DINOv3 file does: RoPE and storage tokens
    const { model } = await loadModel(join(dir, "straight"));
    assertTrue(model instanceof VisionTransformer, "a ViT");
    const vit = model as VisionTransformer;
    assertEquals(vit.config.positionEmbedding, "rope");
    assertEquals(vit.config.registers, 2);
    assertEquals(vit.config.feedForward, "swiglu");
    vit.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DINOv3 training: bad backbone keys are refused with their values", () => {
  assertThrows(
    () => dinov3Config({ positionEmbedding: "sine" as "rope" }),
    ConfigError,
    '"learned" or "rope", got "sine"',
  );
  assertThrows(() => dinov3Config({ embedDim: 12, heads: 2 }), ConfigError, "multiple of 4");
  assertThrows(
    () => resolveConfig(DINO_DEFAULTS, { arch: "mixer", gramLossWeight: 1 }),
    ConfigError,
    'gramLossWeight is for a ViT; arch is "mixer"',
  );
  assertThrows(() => dinov3Config({ registers: 1.5 }), ConfigError, "registers");
});
