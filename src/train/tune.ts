/**
 * Matmul tuning for a training run: the products one DINO step of `config` runs (student, EMA
 * teacher, heads, their gradients), each shape class timed over the kernel variants on this
 * adapter and the fastest remembered (src/ops/matmul/tuning.ts: in memory and in the cache file),
 * so the run's steps use it. Nothing is assumed of the adapter: on a GPU the tuned choice can
 * differ from the heuristic default by 1.2-1.5x (docs/GPU_CHECK.md).
 * @module
 */
import { randomImageBatch } from "../data/synthetic.ts";
import { gpu } from "../gpu/device.ts";
import { collectMatmulProblems } from "../ops/matmul/choice.ts";
import { tuneMatmulProblems, type TuneResult } from "../ops/matmul/tuning.ts";
import type { DinoTrainConfig } from "./config.ts";
import { DinoTrainer } from "./dino_trainer.ts";

/** Options of `tuneTrainingMatmuls`. */
export interface TrainingTuneOptions {
  /** Time budget per shape class in milliseconds (default 1200). */
  budgetMs?: number;
  /** Hears of each tuned class (its result, its index, the number of classes). */
  onTuned?: (result: TuneResult, index: number, count: number) => void;
}

/**
 * Runs one DINO step of `config` on a throwaway trainer (random weights, a batch of random
 * images at `config.imageSize`), collects the products it ran, and tunes each shape class. The
 * first resolution phase's crops only (a curriculum's later sizes are other classes).
 */
export async function tuneTrainingMatmuls(
  config: DinoTrainConfig,
  options: TrainingTuneOptions = {},
): Promise<TuneResult[]> {
  const trainer = new DinoTrainer(config, 1_000_000);
  trainer.replay = false;
  let problems;
  try {
    const { result, problems: ran } = collectMatmulProblems(() =>
      trainer.trainStep(randomImageBatch(config.batchSize, config.imageSize))
    );
    for (const value of Object.values(result)) value?.dispose();
    await gpu().sync();
    problems = ran;
  } finally {
    trainer.dispose();
  }
  return await tuneMatmulProblems(problems, {
    budgetMs: options.budgetMs,
    onTuned: options.onTuned,
  });
}
