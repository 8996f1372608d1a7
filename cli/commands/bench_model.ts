/**
 * `dinogpu bench model`: inference throughput (images/s) and peak GPU pool bytes of a randomly
 * initialised ViT or MLP-Mixer at a given input size and batch.
 * @module
 */
import { Command } from "commander";
import { gpu, initGpu } from "../../src/gpu/device.ts";
import { formatKernelTimes, type KernelTime } from "../../src/gpu/profiler.ts";
import { batchFeatures } from "../../src/eval/features.ts";
import { MIXER_SIZES, MlpMixer } from "../../src/nn/mixer.ts";
import { VisionTransformer, VIT_SIZES } from "../../src/nn/vit.ts";
import { tensor } from "../../src/tensor/tensor.ts";
import { TUNE_HELP } from "../matmul_tuning.ts";
import { UserError } from "../run.ts";
import { PRECISION_FLAG, PRECISION_HELP, precisionFlag, wholeOption } from "../shared.ts";
import type { ComputePrecision } from "../../src/nn/module.ts";
import { benchTrainStep, timedLoop } from "./bench_train.ts";

/** Options of `benchModel`. */
export interface BenchModelOptions {
  /** vit_tiny, vit_small, vit_base, vit_large, vit_giant, or mixer_s16 / mixer_b16 / ... */
  arch: string;
  /** Patch size (ViT). */
  patch: number;
  /** Input side. */
  size: number;
  /** Images per batch. */
  batch: number;
  /** Timed batches (default: as many as fit ~`seconds`, at least 2). */
  iterations?: number;
  /** Time budget when `iterations` is not given (default 3 s). */
  seconds?: number;
  /** Precision of the matrix products (default f32). */
  precision?: ComputePrecision;
  /** After the timing, one more batch with per-kernel GPU times (timestamp queries). */
  profile?: boolean;
}

/**
 * Kernel times of one more `run` with profiling on (a pass per dispatch, so slower than unprofiled
 * batches; compare kernels with each other); a UserError where the adapter has no timestamp-query.
 */
async function profileBatch(run: () => Promise<void>): Promise<KernelTime[]> {
  if (!gpu().startProfiling()) {
    throw new UserError("bench model --profile: this adapter has no timestamp-query");
  }
  await run();
  return (await gpu().stopProfiling()).map((time) => ({
    ...time,
    milliseconds: Math.round(time.milliseconds * 100) / 100,
  }));
}

/** Times inference batches; returns the figures `bench model` prints. */
export async function benchModel(options: BenchModelOptions): Promise<Record<string, unknown>> {
  const device = await initGpu();
  const { arch, patch, size, batch } = options;
  let model: VisionTransformer | MlpMixer;
  const vitSize = /^vit_(tiny|small|base|large|giant)$/.exec(arch);
  const mixerSize = /^mixer_([slb])(16|32)$/.exec(arch);
  if (vitSize) {
    if (size % patch !== 0) {
      throw new UserError(`--size ${size} is not a multiple of --patch ${patch}`);
    }
    model = new VisionTransformer({
      ...VIT_SIZES[vitSize[1] as keyof typeof VIT_SIZES],
      patchSize: patch,
      imageSize: size,
      feedForward: vitSize[1] === "giant" ? "swiglu" : "mlp",
    });
  } else if (mixerSize) {
    const key = `${mixerSize[1].toUpperCase()}/${mixerSize[2]}` as keyof typeof MIXER_SIZES;
    if (!(key in MIXER_SIZES)) throw new UserError(`bench model: no Mixer ${key}`);
    model = new MlpMixer({ ...MIXER_SIZES[key], imageSize: size });
  } else {
    throw new UserError(
      `bench model: --arch must be vit_tiny|vit_small|vit_base|vit_large|vit_giant or ` +
        `mixer_s16|mixer_s32|mixer_b16|mixer_b32|mixer_l16, got "${arch}"`,
    );
  }
  model.eval().setPrecision(options.precision ?? "f32");
  const host = new Float32Array(batch * 3 * size * size);
  for (let i = 0; i < host.length; i++) host[i] = Math.sin(i * 0.001);
  const images = tensor(host, [batch, 3, size, size]);
  try {
    const run = async () => {
      const features = batchFeatures(model, images);
      await features.read();
      features.dispose();
    };
    await run(); // warm-up: pipelines compiled, pool filled
    device.pool.resetPeak();
    const { iterations, seconds } = await timedLoop(run, options.iterations, options.seconds ?? 3);
    const kernels = options.profile ? await profileBatch(run) : undefined;
    return {
      adapter: gpu().description,
      arch,
      patch: vitSize ? patch : model.config.patchSize,
      size,
      batch,
      precision: model.precision,
      iterations,
      imagesPerSecond: Math.round(iterations * batch / seconds * 100) / 100,
      millisecondsPerBatch: Math.round(seconds * 1000 / iterations * 100) / 100,
      peakGpuBytes: device.pool.counters.peakAllocatedBytes,
      parameters: model.parameterCount(),
      ...(kernels ? { kernels } : {}),
    };
  } finally {
    images.dispose();
    model.dispose();
  }
}

/** The `model` subcommand of `bench`. */
export function benchModelCommand() {
  return new Command("model")
    .description(
      "inference (or, with --train, DINO training) images/s and peak GPU bytes of a ViT or Mixer " +
        "(random weights)",
    )
    .option(
      "--arch <name>",
      "vit_tiny|vit_small|vit_base|vit_large|vit_giant|mixer_s16|...",
      "vit_small",
    )
    .option("--patch <pixels>", "patch size (ViT)", wholeOption("--patch"), 16)
    .option("--size <pixels>", "input side", wholeOption("--size"), 224)
    .option("--batch <count>", "images per batch", wholeOption("--batch"), 16)
    .option(
      "--iterations <count>",
      "timed batches (default: ~3 s worth)",
      wholeOption("--iterations"),
    )
    .option("--train", "time DINO training steps instead of inference")
    .option(
      "--local-crops <count>",
      "local crops per image (--train)",
      wholeOption("--local-crops"),
      4,
    )
    .option(
      "--local-size <pixels>",
      "side of the local crops (--train)",
      wholeOption("--local-size"),
      96,
    )
    .option("--out-dim <count>", "DINO head prototypes (--train)", wholeOption("--out-dim"), 65536)
    .option(PRECISION_FLAG, PRECISION_HELP, precisionFlag, "f32" as ComputePrecision)
    .option("--profile", "inference: GPU time per kernel of one more batch (a table on stderr)")
    .option("--tune", `--train: ${TUNE_HELP}`)
    .option("--json", "print one JSON object (the default output is the same object, indented)")
    .action(async (options) => {
      if (options.tune && !options.train) {
        throw new UserError("bench model: --tune tunes a training step's products; add --train");
      }
      if (options.train && options.profile) {
        throw new UserError(
          "bench model: --profile times inference; for training use train --profile",
        );
      }
      const result = options.train ? await benchTrainStep(options) : await benchModel(options);
      if (result.kernels) console.error(formatKernelTimes(result.kernels as KernelTime[]));
      console.log(options.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
    });
}
