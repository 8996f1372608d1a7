/**
 * Tiny DINO settings for the training tests: the network and crops they all share
 * (`tinyDinoConfig`), the run of the tests of a run's files (steps of a few milliseconds on
 * lavapipe; 64 synthetic 16 px images, so 7 steps of 8 per epoch), the steps of the replay tests,
 * and batches of synthetic images.
 * @module
 */
import { trainTestSplit } from "../../src/data/dataset.ts";
import { type Batch, DataLoader } from "../../src/data/loader.ts";
import { syntheticDataset } from "../../src/data/synthetic.ts";
import { readAll } from "../../src/tensor/tensor.ts";
import { DINO_DEFAULTS, type DinoTrainConfig } from "../../src/train/config.ts";
import { DinoTrainer } from "../../src/train/dino_trainer.ts";
import type { StepResult } from "../../src/train/step.ts";
import { resolveConfig } from "../../src/train/validate.ts";

/** A tiny ViT (16 px images, patch 4, width 16, depth 1, 2 heads): spread and add fields. */
export const TINY_VIT = { imageSize: 16, patchSize: 4, embedDim: 16, depth: 1, heads: 2 } as const;

/** The 80/20 split of 80 synthetic 16 px images (seed 3) the tiny run trains and evaluates on. */
export const tinySplit = trainTestSplit(syntheticDataset({ count: 80, size: 16, seed: 3 }), {
  testFraction: 0.2,
  seed: 1,
});

/** The training split of the tiny run. */
export const tinyTrain = tinySplit.train;

/**
 * The defaults with a tiny network over them: 16 px images, a 16-wide network of 2 heads, a
 * 32-wide DINO head (hidden 16, bottleneck 8), two 16 px global and two 8 px local crops; then
 * `fields`.
 */
export function tinyDinoConfig(fields: Partial<DinoTrainConfig>): DinoTrainConfig {
  return resolveConfig(DINO_DEFAULTS, {
    imageSize: 16,
    embedDim: 16,
    heads: 2,
    outDim: 32,
    headHidden: 16,
    headBottleneck: 8,
    globalSize: 16,
    localSize: 8,
    localCrops: 2,
    ...fields,
  });
}

/** A tiny configuration writing into `out`: 2 epochs of 7 steps, a metrics line every step. */
export function tinyConfig(out: string, overrides: Partial<DinoTrainConfig> = {}): DinoTrainConfig {
  return tinyDinoConfig({
    patchSize: 8,
    depth: 1,
    batchSize: 8,
    epochs: 2,
    warmupEpochs: 1,
    globalScale: [0.5, 1],
    localScale: [0.2, 0.5],
    freezeLastLayer: 1,
    logEvery: 1,
    out,
    ...overrides,
  });
}

/**
 * The 4 px patch runs of the distillation and curriculum tests writing into `out`: one epoch of
 * batches of 8, depth 1, Mixer widths (tokens 8, channels 16) for the Mixer cases, no drop path,
 * the last layer never frozen, a metrics line every step.
 */
export function tinyPatch4Config(
  out: string,
  overrides: Partial<DinoTrainConfig> = {},
): DinoTrainConfig {
  return tinyDinoConfig({
    patchSize: 4,
    depth: 1,
    tokenHidden: 8,
    channelHidden: 16,
    batchSize: 8,
    epochs: 1,
    warmupEpochs: 0,
    globalScale: [0.5, 1],
    freezeLastLayer: 0,
    logEvery: 1,
    dropPathRate: 0,
    out,
    ...overrides,
  });
}

/** The replay tests' steps: patch 8, depth 2, batches of 4, 2 epochs, drop path 0.3. */
export function tinyStepConfig(overrides: Partial<DinoTrainConfig> = {}): DinoTrainConfig {
  return tinyDinoConfig({
    patchSize: 8,
    depth: 2,
    batchSize: 4,
    epochs: 2,
    warmupEpochs: 1,
    dropPathRate: 0.3,
    ...overrides,
  });
}

/** The first `count` batches of `batchSize` synthetic 16 px images (default seed), epoch 0. */
export async function syntheticBatches(count: number, batchSize: number): Promise<Batch[]> {
  const loader = new DataLoader(syntheticDataset({ count: count * batchSize, size: 16 }), {
    batchSize,
  });
  const batches: Batch[] = [];
  for await (const batch of loader.epoch(0)) batches.push(batch);
  return batches;
}

/**
 * Trains a fresh `DinoTrainer` on `batches` (`config.epochs` epochs of them), replaying steps or
 * not: per step the values of `monitors`, then the teacher's first 6 parameters, the count of
 * replayed steps and the replay's failure.
 */
export async function trainSteps(
  config: DinoTrainConfig,
  replay: boolean,
  batches: Batch[],
  monitors: ("loss" | "teacherEntropy" | "centerNormSquared")[],
) {
  const trainer = new DinoTrainer(config, batches.length / config.epochs);
  trainer.replay = replay;
  const values: number[][] = [];
  for (const batch of batches) {
    const result: StepResult = trainer.trainStep(batch);
    const read = await readAll(monitors.map((name) => result[name]));
    values.push(read.map((value) => value[0]));
    for (const value of Object.values(result)) value.dispose();
  }
  const weights = await readAll(trainer.teacher.parameters().slice(0, 6));
  const result = {
    monitors: values,
    weights,
    replayed: trainer.replayedSteps,
    failure: trainer.replayFailure,
  };
  trainer.dispose();
  return result;
}
