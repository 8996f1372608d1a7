/**
 * `--tune` of `train`, `distill` and `bench model --train`: the matmul shape classes of the run's
 * step tuned on this adapter before it starts, one line per class on stderr.
 * @module
 */
import type { DinoTrainConfig } from "../src/train/config.ts";
import { tuneTrainingMatmuls } from "../src/train/tune.ts";

/** The help text of `--tune`. */
export const TUNE_HELP = "first time the matmul kernels on this adapter for the step's shapes " +
  "and use the fastest (remembered per adapter in ~/.cache/dinogpu)";

/** Tunes the products of one step of `config`, printing each class's fastest kernel. */
export async function tuneForTraining(config: DinoTrainConfig): Promise<void> {
  const start = performance.now();
  const results = await tuneTrainingMatmuls(config, {
    onTuned: (result, index, count) => {
      const best = result.timings[0];
      console.error(
        `tune ${index + 1}/${count} ${result.shapeClass}: ${result.variant}` +
          (best ? ` ${best.gflops.toFixed(1)} GFLOP/s of ${result.timings.length} timed` : ""),
      );
    },
  });
  console.error(
    `tuned ${results.length} matmul shape classes in ${
      ((performance.now() - start) / 1000).toFixed(1)
    } s`,
  );
}
