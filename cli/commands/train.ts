/**
 * `dinogpu train`: DINO self-distillation on a data set, configured by a preset, a JSON file and
 * flags (in that order of precedence, flags last; train_options.ts). `dinogpu demo` (demo.ts)
 * runs it on its own defaults.
 * @module
 */
import { basename, join } from "node:path";
import { Command } from "commander";
import type { Dataset } from "../../src/data/dataset.ts";
import {
  DataSpecError,
  knnGap,
  loadDataSpec,
  type LoadedData,
  loadEvalDataSpec,
} from "../../src/data/spec.ts";
import { trainSubsetOf } from "../../src/data/names.ts";
import { initGpu } from "../../src/gpu/device.ts";
import type { DinoTrainConfig } from "../../src/train/config.ts";
import { ConfigError } from "../../src/train/validate.ts";
import { readCheckpointInfo } from "../../src/train/checkpoint.ts";
import { runSteps } from "../../src/train/curriculum.ts";
import { type DistillTeacher, loadDistillTeacher } from "../../src/train/distill.ts";
import { CheckpointError } from "../../src/io/safetensors.ts";
import {
  knnBankImages,
  METRICS_FILE,
  runDinoTraining,
  type TrainRunResult,
} from "../../src/train/run.ts";
import {
  DENO_FILE_SYSTEM,
  OutputWriteError,
  type RunFileSystem,
  writeFailure,
} from "../../src/train/run_folder.ts";
import { writeCurves } from "./plot.ts";
import {
  addTrainOptions,
  type CommandDefaults,
  configFromFlags,
  resumedConfig,
  type TrainFlags,
} from "./train_options.ts";
import { tuneForTraining } from "../matmul_tuning.ts";
import { ProgressBar } from "../progress.ts";
import { UserError } from "../run.ts";

/**
 * The run's curves.png, drawn again from its metrics.jsonl at every checkpoint and at the end, so
 * a person can look at a run while it trains. A failure to draw is said once and never stops the
 * run; a failure to write the file (no space, no permission) ends it with an `OutputWriteError`
 * naming the last good checkpoint.
 */
export class RunCurves {
  /** Where the picture goes. */
  readonly path: string;
  /** Whether the latest attempt wrote the picture. */
  drawn = false;
  #failed = false;

  /** Curves of the run in `out` written through `fileSystem`, reporting a failure through `say`. */
  constructor(
    readonly out: string,
    readonly say: (message: string) => void,
    readonly fileSystem: RunFileSystem = DENO_FILE_SYSTEM,
  ) {
    this.path = join(out, "curves.png");
  }

  /** Draws the curves; throws only an `OutputWriteError` (the file could not be written). */
  async draw(): Promise<void> {
    try {
      await writeCurves(join(this.out, METRICS_FILE), this.path, {
        title: basename(this.out),
        fileSystem: this.fileSystem,
      });
      this.drawn = true;
    } catch (error) {
      this.drawn = false;
      if (error instanceof OutputWriteError) throw await writeFailure(this.out, this.path, error);
      if (!this.#failed) this.say(`curves.png not drawn: ${(error as Error).message}`);
      this.#failed = true;
    }
  }
}

/** Trains as `flags` say, drawing a progress bar on stderr; returns the run's result. */
export async function trainFromFlags(
  flags: TrainFlags,
  defaults: CommandDefaults = {},
  { teacher, teacherHeads, teacherHead }: {
    teacher?: string;
    teacherHeads?: number;
    teacherHead?: "checkpoint" | "random";
  } = {},
): Promise<{ config: DinoTrainConfig; result: TrainRunResult }> {
  let config: DinoTrainConfig;
  let resumedStep = 0;
  if (flags.resume) {
    const info = await readCheckpointInfo(flags.resume).catch((error) => {
      throw new UserError((error as Error).message);
    });
    resumedStep = info.step;
    const resumed = resumedConfig(info.config, flags.resume, flags);
    config = resumed.config;
    if (resumed.ignored.length > 0) {
      console.error(
        `--resume continues the run as it was configured: ignored ${resumed.ignored.join(", ")}`,
      );
    }
  } else {
    config = await configFromFlags(flags, defaults);
  }
  await initGpu();
  if (flags.tune) await tuneForTraining(config);
  let frozen: DistillTeacher | undefined;
  if (teacher) {
    frozen = await loadDistillTeacher(teacher, config, { heads: teacherHeads, teacherHead }).catch(
      (error) => {
        if (error instanceof ConfigError || error instanceof CheckpointError) {
          throw new UserError(error.message);
        }
        throw error;
      },
    );
    console.error(`dinogpu distill: ${frozen.description}`);
  }
  // the generated sets take their size from syntheticCount unless the spec names one
  const spec = config.data === "synthetic" || config.data === "textures"
    ? `${config.data}:${config.syntheticCount}`
    : config.data;
  const data = await loadDataSpec(spec, {
    seed: config.seed,
    syntheticSize: config.imageSize,
  }).catch((error) => {
    throw new UserError((error as Error).message);
  });
  for (const skipped of data.skipped ?? []) {
    console.error(`skipped ${skipped.path}: ${skipped.reason}`);
  }
  const knn = await evaluationSets(data, config);
  const train = config.trainSubset
    ? await trainSubsetOf(data.train, config.trainSubset).catch((error) => {
      throw error instanceof DataSpecError ? new UserError(error.message) : error;
    })
    : data.train;
  const trainImages = config.trainSubset
    ? `${train.length} of the ${data.train.length} train images (${config.trainSubset})`
    : `${data.train.length} train`;
  const images = config.evalData
    ? `${trainImages} images of "${data.name}" (k-NN: ${
      knnBankImages(knn!.bank, config.evalTrainLimit)
    } bank / ${knn!.queries.length} query images of "${knn!.name}")`
    : `${trainImages} / ${data.test.length} test images of "${data.name}"`;
  console.error(
    `dinogpu train: ${config.arch} dim ${config.embedDim} depth ${config.depth} patch ` +
      `${config.patchSize}, ${config.imageSize} px, ${images}, ${config.epochs} epoch${
        config.epochs === 1 ? "" : "s"
      } of batch ${config.batchSize}, ` +
      `${config.localCrops} local crops${
        config.precision === "f16" ? ", f16 products" : ""
      } -> ${config.out}`,
  );
  const shards = flags.shardCount ?? 1;
  const stepsPerEpoch = Math.floor(Math.floor(train.length / shards) / config.batchSize);
  const allSteps = runSteps(config, stepsPerEpoch);
  const totalSteps = config.maxSteps > 0 ? Math.min(config.maxSteps, allSteps) : allSteps;
  const bar = new ProgressBar({
    label: "train",
    total: totalSteps * config.batchSize,
    unit: "img",
    // a resumed run's rate and ETA count the images it trains, not those before the checkpoint
    initial: resumedStep * config.batchSize,
  });
  const curves = new RunCurves(config.out, (message) => bar.note(message));
  const result = await runDinoTraining({
    config,
    train,
    test: knn?.queries,
    // the whole train split stays the k-NN bank when a subset trains
    bank: knn?.bank ?? (train !== data.train ? data.train : undefined),
    resume: flags.resume,
    workers: flags.workers,
    prefetch: flags.prefetch,
    shard: [flags.shardIndex ?? 0, flags.shardCount ?? 1],
    teacher: frozen?.network,
    profile: flags.profile,
    onMessage: (message) => bar.note(message),
    onCheckpoint: () => curves.draw(),
    onProgress: ({ step, epoch, metrics }) => {
      bar.update(step * config.batchSize, {
        // the high-resolution phase's steps come after the last epoch
        epoch: epoch < config.epochs
          ? `${epoch + 1}/${config.epochs}`
          : `high-res ${config.highResSize}px`,
        loss: metrics?.loss,
      });
    },
  }).catch((error) => {
    // the bar's last state on its own line above the message, when it was drawn at all
    if (bar.done > resumedStep * config.batchSize) bar.finish();
    throw error;
  });
  bar.finish();
  await curves.draw();
  if (curves.drawn) console.error(`curves ${curves.path}`);
  return { config, result };
}

/** The k-NN sets of a run: a memory bank and its queries, from the spec `name`. */
interface EvaluationSets {
  bank: Dataset;
  queries: Dataset;
  name: string;
}

/**
 * The k-NN sets of a run training on `data`: the splits of `config.evalData` when it names a set
 * (refused with a `UserError` unless labelled with a test split), else `data`'s own when it has
 * labels and a test split; else none, said in one line.
 */
async function evaluationSets(
  data: LoadedData,
  config: DinoTrainConfig,
): Promise<EvaluationSets | undefined> {
  if (config.evalData) {
    const evalData = await loadEvalDataSpec(config.evalData, {
      seed: config.seed,
      syntheticSize: config.imageSize,
    }).catch((error) => {
      throw new UserError((error as Error).message);
    });
    return { bank: evalData.train, queries: evalData.test, name: evalData.name };
  }
  const gap = knnGap(data);
  if (!gap) return { bank: data.train, queries: data.test, name: data.name };
  console.error(
    `k-NN evaluation off: ${data.name} ${gap}; --eval-data SPEC names a labelled set to ` +
      "evaluate on",
  );
  return undefined;
}

/** The `train` command. */
export function trainCommand(): Command {
  return addTrainOptions(
    new Command("train").description("train a ViT or MLP-Mixer with DINO self-distillation"),
  ).action(async (flags: TrainFlags) => {
    const { result } = await trainFromFlags(flags);
    printRunResult(
      result,
      flags.json,
      `trained ${result.steps} steps at ${result.imagesPerSecond.toFixed(1)} images/s, peak GPU ` +
        `memory ${(result.peakGpuBytes / 2 ** 20).toFixed(1)} MiB; checkpoint ${result.checkpoint}`,
    );
  });
}

/**
 * Prints what a training run (`train`, `distill`) ended with: one JSON object with `json`,
 * otherwise `headline` and the k-NN accuracy before and after, when the run measured it.
 */
export function printRunResult(
  result: TrainRunResult,
  json: boolean | undefined,
  headline: string,
): void {
  if (json) {
    console.log(JSON.stringify({
      steps: result.steps,
      knn_top1_before: result.knnBefore,
      knn_top1_after: result.knnAfter,
      images_per_second: result.imagesPerSecond,
      peak_gpu_bytes: result.peakGpuBytes,
      checkpoint: result.checkpoint,
    }));
    return;
  }
  console.log(headline);
  if (result.knnAfter !== undefined) {
    console.log(
      `knn_top1 before=${result.knnBefore?.toFixed(2) ?? "n/a"} after=${
        result.knnAfter.toFixed(2)
      }`,
    );
  }
}
