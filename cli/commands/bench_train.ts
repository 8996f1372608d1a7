/**
 * `dinogpu bench model --train`: images/s and peak GPU pool bytes of DINO training steps of a
 * randomly initialised ViT or MLP-Mixer (DINO's recipe: two global crops at the input size, local
 * crops, the 3-layer head onto `outDim` prototypes, AdamW, EMA teacher), on one random batch of
 * uint8 images, after the steps that compile, record and first replay the step.
 * @module
 */
import { gpu, initGpu } from "../../src/gpu/device.ts";
import { MIXER_SIZES } from "../../src/nn/mixer.ts";
import { VIT_SIZES } from "../../src/nn/vit.ts";
import { DinoTrainer } from "../../src/train/dino_trainer.ts";
import { presetConfig } from "../../src/train/validate.ts";
import { randomImageBatch } from "../../src/data/synthetic.ts";
import { tuneForTraining } from "../matmul_tuning.ts";
import { UserError } from "../run.ts";

/** Options of `benchTrainStep`. */
export interface BenchTrainOptions {
  /** vit_tiny, vit_small, vit_base, vit_large, or mixer_s16 / mixer_b16 / ... */
  arch: string;
  /** Patch size (ViT). */
  patch: number;
  /** Side of the images and of the global crops. */
  size: number;
  /** Images per step. */
  batch: number;
  /** Local crops per image (default 4). */
  localCrops?: number;
  /** Side of the local crops (default 96). */
  localSize?: number;
  /** Prototypes of the DINO head (default 65536, DINO's). */
  outDim?: number;
  /** Timed steps (default: as many as fit ~`seconds`, at least 2). */
  iterations?: number;
  /** Time budget when `iterations` is not given (default 5 s). */
  seconds?: number;
  /** Precision of the networks' Linear products (default f32). */
  precision?: "f32" | "f16";
  /** Tune the step's matmul shape classes on this adapter first (`tuneTrainingMatmuls`). */
  tune?: boolean;
}

/** The architecture keys of a DINO configuration for `arch` (throws a UserError for an unknown one). */
function architecture(arch: string, patch: number): Record<string, unknown> {
  const vit = /^vit_(tiny|small|base|large)$/.exec(arch);
  if (vit) return { arch: "vit", patchSize: patch, ...VIT_SIZES[vit[1] as keyof typeof VIT_SIZES] };
  const mixer = /^mixer_([slb])(16|32)$/.exec(arch);
  const key = mixer ? `${mixer[1].toUpperCase()}/${mixer[2]}` : "";
  if (mixer && key in MIXER_SIZES) {
    return { arch: "mixer", ...MIXER_SIZES[key as keyof typeof MIXER_SIZES] };
  }
  throw new UserError(
    `bench model --train: --arch must be vit_tiny|vit_small|vit_base|vit_large or ` +
      `mixer_s16|mixer_s32|mixer_b16|mixer_b32|mixer_l16, got "${arch}"`,
  );
}

/**
 * The timed loop of the benchmarks: `step` `iterations` times, or without a count at least twice
 * and until `seconds` have passed; the clock stops after `finish` (a device sync).
 */
export async function timedLoop(
  step: () => Promise<void>,
  iterations: number | undefined,
  seconds: number,
  finish?: () => Promise<void>,
): Promise<{ iterations: number; seconds: number }> {
  const budget = seconds * 1000;
  let done = 0;
  const start = performance.now();
  while (
    iterations !== undefined ? done < iterations : done < 2 || performance.now() - start < budget
  ) {
    await step();
    done++;
  }
  await finish?.();
  return { iterations: done, seconds: (performance.now() - start) / 1000 };
}

/** Times DINO training steps; returns the figures `bench model --train` prints. */
export async function benchTrainStep(options: BenchTrainOptions): Promise<Record<string, unknown>> {
  const device = await initGpu();
  const { size, batch } = options;
  const localCrops = options.localCrops ?? 4;
  const localSize = options.localSize ?? 96;
  const outDim = options.outDim ?? 65536;
  const config = presetConfig("dino", {
    ...architecture(options.arch, options.patch),
    imageSize: size,
    globalSize: size,
    localSize,
    localCrops,
    outDim,
    batchSize: batch,
    epochs: 1,
    warmupEpochs: 0,
    freezeLastLayer: 0,
    precision: options.precision ?? "f32",
  });
  if (options.tune) await tuneForTraining(config);
  const trainer = new DinoTrainer(config, 1_000_000);
  const inputs = randomImageBatch(batch, size);
  const step = () => {
    const result = trainer.trainStep(inputs);
    for (const value of Object.values(result)) value?.dispose();
  };
  try {
    // compile, record, first replay
    for (let warm = 0; warm < 3; warm++) step();
    await device.sync();
    device.pool.resetPeak();
    const { iterations, seconds } = await timedLoop(
      async () => {
        step();
        if (options.iterations === undefined) await device.sync(); // keep the clock honest per step
      },
      options.iterations,
      options.seconds ?? 5,
      () => device.sync(),
    );
    return {
      adapter: gpu().description,
      arch: options.arch,
      patch: config.patchSize,
      size,
      batch,
      localCrops,
      localSize,
      outDim,
      precision: config.precision,
      tuned: options.tune === true,
      iterations,
      replayed: trainer.replayFailure === undefined,
      imagesPerSecond: Math.round(iterations * batch / seconds * 100) / 100,
      millisecondsPerStep: Math.round(seconds * 1000 / iterations * 100) / 100,
      peakGpuBytes: device.pool.counters.peakAllocatedBytes,
      peakLiveBytes: device.pool.counters.peakLiveBytes,
      parameters: trainer.student.parameterCount(),
    };
  } finally {
    trainer.dispose();
  }
}
