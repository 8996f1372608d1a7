/**
 * A tiny DINO run for tests of the run's files (steps of a few milliseconds on lavapipe) and its
 * data: 64 synthetic 16 px images, so 7 steps of 8 per epoch.
 * @module
 */
import { trainTestSplit } from "../../src/data/dataset.ts";
import { syntheticDataset } from "../../src/data/synthetic.ts";
import { DINO_DEFAULTS, type DinoTrainConfig } from "../../src/train/config.ts";
import { resolveConfig } from "../../src/train/validate.ts";

/** The training split of the tiny run. */
export const tinyTrain = trainTestSplit(syntheticDataset({ count: 80, size: 16, seed: 3 }), {
  testFraction: 0.2,
  seed: 1,
}).train;

/** A tiny configuration writing into `out`: 2 epochs of 7 steps, a metrics line every step. */
export function tinyConfig(out: string, overrides: Partial<DinoTrainConfig> = {}): DinoTrainConfig {
  return resolveConfig(DINO_DEFAULTS, {
    imageSize: 16,
    patchSize: 8,
    embedDim: 16,
    depth: 1,
    heads: 2,
    outDim: 32,
    headHidden: 16,
    headBottleneck: 8,
    batchSize: 8,
    epochs: 2,
    warmupEpochs: 1,
    globalSize: 16,
    globalScale: [0.5, 1],
    localSize: 8,
    localScale: [0.2, 0.5],
    localCrops: 2,
    freezeLastLayer: 1,
    logEvery: 1,
    out,
    ...overrides,
  });
}
