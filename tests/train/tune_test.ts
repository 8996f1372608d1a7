// Tuning for a training run (src/train/tune.ts): the products of one tiny DINO step, each shape
// class timed once and remembered, so that matmul then uses the tuned kernel.
import { assertEquals, assertTrue } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { tinyStepConfig } from "../helpers/tiny_dino.ts";
import {
  chooseMatmulVariant,
  choosesTransposedCopy,
  collectMatmulProblems,
  shapeClass,
  TRANSPOSED_COPY,
  transposedCopyApplies,
} from "../../src/ops/matmul/choice.ts";
import { randomImageBatch } from "../../src/data/synthetic.ts";
import { DinoTrainer } from "../../src/train/dino_trainer.ts";
import { MATMUL_VARIANTS } from "../../src/ops/matmul/variants.ts";
import { tuneTrainingMatmuls } from "../../src/train/tune.ts";

gpuTest("tuneTrainingMatmuls: every product of a step tuned once, then chosen", async () => {
  // the cache folder is process-wide: set for this test only
  const previous = Deno.env.get("XDG_CACHE_HOME");
  Deno.env.set("XDG_CACHE_HOME", await Deno.makeTempDir());
  try {
    const config = tinyStepConfig({ dropPathRate: 0 });
    const heard: number[] = [];
    const results = await tuneTrainingMatmuls(config, {
      budgetMs: 150,
      onTuned: (_, index, count) => heard.push(count - index),
    });
    assertTrue(results.length >= 6, `${results.length} shape classes`);
    assertEquals(heard.at(-1), 1, "onTuned heard of the last class");
    assertEquals(new Set(results.map((r) => r.shapeClass)).size, results.length);
    const names = new Set([...MATMUL_VARIANTS.map((variant) => variant.name), TRANSPOSED_COPY]);
    assertTrue(results.every((r) => names.has(r.variant) && r.timings[0]?.variant === r.variant));
    // a forward product (x W^T) and a weight gradient's are among them
    assertTrue(results.some((r) => r.shapeClass.startsWith("t01")), "x @ W^T");
    assertTrue(results.some((r) => r.shapeClass.startsWith("t00")), "plain products");
    // matmul now takes the tuned kernel (or the tuned copy of a transposed a) for each product
    const trainer = new DinoTrainer(config, 1_000_000);
    trainer.replay = false;
    const { result, problems } = collectMatmulProblems(() =>
      trainer.trainStep(randomImageBatch(config.batchSize, config.imageSize))
    );
    for (const value of Object.values(result)) value?.dispose();
    trainer.dispose();
    // every product the tuned step runs was tuned (the tuner also tunes the plain form of each
    // transposed-A class, which the step runs where the copy won)
    const tuned = new Map(results.map((r) => [r.shapeClass, r.variant]));
    for (const problem of problems) {
      const choice = tuned.get(shapeClass(problem));
      assertTrue(choice !== undefined, `${shapeClass(problem)} was not tuned`);
      if (transposedCopyApplies(problem)) {
        assertEquals(choosesTransposedCopy(problem), choice === TRANSPOSED_COPY);
      }
      if (choice !== TRANSPOSED_COPY) assertEquals(chooseMatmulVariant(problem).name, choice);
    }
  } finally {
    if (previous === undefined) Deno.env.delete("XDG_CACHE_HOME");
    else Deno.env.set("XDG_CACHE_HOME", previous);
  }
});
