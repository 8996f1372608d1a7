/**
 * `dinogpu train`: DINO self-distillation on a data set, configured by a preset, a JSON file and
 * flags (in that order of precedence, flags last). `dinogpu demo` (demo.ts) runs it on its own
 * defaults.
 * @module
 */
import { basename, join } from "node:path";
import { Command, Option } from "commander";
import type { Dataset } from "../../src/data/dataset.ts";
import {
  DATA_SPEC_FORMS,
  knnGap,
  loadDataSpec,
  type LoadedData,
  loadEvalDataSpec,
} from "../../src/data/spec.ts";
import { initGpu } from "../../src/gpu/device.ts";
import {
  DINO_DEFAULTS,
  type DinoTrainConfig,
  type Preset,
  PRESETS,
} from "../../src/train/config.ts";
import { presetConfig, validateConfig } from "../../src/train/validate.ts";
import { ConfigError } from "../../src/train/validate.ts";
import { readCheckpointInfo } from "../../src/train/checkpoint.ts";
import { runSteps } from "../../src/train/curriculum.ts";
import { type DistillTeacher, loadDistillTeacher } from "../../src/train/distill.ts";
import { CheckpointError } from "../../src/io/safetensors.ts";
import { METRICS_FILE, runDinoTraining, type TrainRunResult } from "../../src/train/run.ts";
import {
  DENO_FILE_SYSTEM,
  OutputWriteError,
  type RunFileSystem,
  writeFailure,
} from "../../src/train/run_folder.ts";
import { writeCurves } from "./plot.ts";
import { ProgressBar } from "../progress.ts";
import { UserError } from "../run.ts";
import { numberOption } from "../shared.ts";

/** Flags that map onto configuration keys (commander camel-cases them). */
const FLAG_KEYS = [
  "data",
  "evalData",
  "syntheticCount",
  "imageSize",
  "arch",
  "patchSize",
  "embedDim",
  "depth",
  "heads",
  "outDim",
  "epochs",
  "batchSize",
  "lr",
  "warmupEpochs",
  "localCrops",
  "seed",
  "logEvery",
  "evalEvery",
  "evalTrainLimit",
  "checkpointEvery",
  "out",
  "maxSteps",
  "dropPathRate",
  "teacherTemp",
  "freezeLastLayer",
  "centering",
  "koleoLossWeight",
  "ibotLossWeight",
] as const;

/** Options shared by `train` and `demo`. */
export interface TrainFlags {
  config?: string;
  preset?: string;
  set?: string[];
  resume?: string;
  json?: boolean;
  workers?: number;
  prefetch?: number;
  shardIndex?: number;
  shardCount?: number;
  profile?: boolean;
  highResPhase?: { highResSize: number; highResSteps: number };
  [key: string]: unknown;
}

/** Parses `--high-res-phase SIZE:STEPS` (two whole numbers above 0). */
export function parseHighResPhase(text: string): { highResSize: number; highResSteps: number } {
  const match = /^(\d+):(\d+)$/.exec(text.trim());
  const [size, steps] = match ? [Number(match[1]), Number(match[2])] : [0, 0];
  if (!(size > 0 && steps > 0)) {
    throw new UserError(
      `--high-res-phase wants SIZE:STEPS (global crop side in px, steps), e.g. 28:200; got "${text}"`,
    );
  }
  return { highResSize: size, highResSteps: steps };
}

/** An option of one number: `usage` is "--flag <name>"; a value that is not one is refused. */
function numeric(usage: string, description: string): Option {
  return new Option(usage, description).argParser(numberOption(usage.split(" ")[0]));
}

/** Adds the options shared by `train`, `demo` and `distill` to `command`. */
export function addTrainOptions(command: Command): Command {
  return command
    .option("--config <file>", "JSON file of configuration keys")
    .option(
      "--preset <name>",
      "dino (paper defaults) | small (28-96 px images) | mnist (28 px grayscale: Fashion-MNIST's " +
        "recipe) | dinov2 (DINOv2's recipe: iBOT, KoLeo, Sinkhorn, registers, LayerScale, " +
        "layer-wise decay, over what auto picks) | auto (mnist for MNIST-format data, small " +
        "for images up to 96 px)",
      "auto",
    )
    .option("--data <spec>", DATA_SPEC_FORMS.join(" | "))
    .option(
      "--eval-data <spec>",
      "labelled set the k-NN evaluations use instead of --data's splits (the only way when " +
        "--data has no labels): bank = its train split, queries = its test split; e.g. " +
        "folder:DIR of class folders (or DIR/train + DIR/val), list:FILE with labels, " +
        "'tar:PATTERN|TEST_PATTERN' of shards with .cls labels",
    )
    .addOption(numeric("--synthetic-count <n>", "images of a generated set"))
    .addOption(numeric("--image-size <px>", "side the training images are resized to"))
    .option("--arch <name>", "vit | mixer")
    .addOption(numeric("--patch-size <n>", "patch size"))
    .addOption(numeric("--embed-dim <n>", "backbone width"))
    .addOption(numeric("--depth <n>", "backbone depth"))
    .addOption(numeric("--heads <n>", "attention heads"))
    .addOption(numeric("--out-dim <n>", "DINO head prototypes"))
    .addOption(numeric("--epochs <n>", "epochs"))
    .addOption(numeric("--batch-size <n>", "images per step"))
    .addOption(numeric("--lr <x>", "peak learning rate per 256 images"))
    .addOption(numeric("--warmup-epochs <n>", "learning-rate warm-up epochs"))
    .addOption(numeric("--local-crops <n>", "local crops per image"))
    .addOption(numeric("--drop-path-rate <x>", "stochastic depth rate"))
    .addOption(numeric("--teacher-temp <x>", "teacher temperature after warm-up"))
    .addOption(numeric("--freeze-last-layer <n>", "epochs with the head's last layer frozen"))
    .option("--centering <kind>", "teacher normalisation: centering | sinkhorn")
    .addOption(numeric("--koleo-loss-weight <x>", "KoLeo weight (DINOv2: 0.1; 0: off)"))
    .addOption(
      numeric("--ibot-loss-weight <x>", "iBOT masked-patch loss weight (DINOv2: 1; 0: off)"),
    )
    .addOption(numeric("--seed <n>", "seed of everything random"))
    .addOption(numeric("--log-every <n>", "steps between metric lines (loss readbacks)"))
    .addOption(numeric("--eval-every <n>", "epochs between k-NN evaluations (0: end only)"))
    .addOption(numeric("--eval-train-limit <n>", "train images in the k-NN memory bank (0: all)"))
    .addOption(numeric("--checkpoint-every <minutes>", "minutes between extra checkpoints"))
    .addOption(numeric("--max-steps <n>", "stop after this many steps"))
    .addOption(
      new Option(
        "--high-res-phase <size:steps>",
        "after the epochs, STEPS more at global crops of SIZE px (DINOv2/v3's high-resolution " +
          "adaptation: position embeddings interpolated once, lr rising to a quarter of the " +
          "peak); with --resume it extends a finished or running run",
      ).argParser(parseHighResPhase),
    )
    .option("--out <dir>", "output folder (checkpoints, metrics.jsonl, curves.png)")
    .option("--set <key=value...>", "any configuration key (JSON value)")
    .addOption(
      numeric("--workers <n>", "decoding workers of folder:/list: data (default: one per core)"),
    )
    .addOption(numeric("--prefetch <n>", "batches folder:/list: data prepares ahead (default 2)"))
    .addOption(numeric("--shard-index <i>", "this process's part of every epoch (0-based)"))
    .addOption(numeric("--shard-count <n>", "processes sharing every epoch (default 1)"))
    .option("--resume <dir>", "continue the run saved in this folder")
    .option("--profile", "print GPU time per kernel (timestamp queries) after training")
    .option("--json", "print the result as one JSON object");
}

async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new UserError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text);
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new Error("not a JSON object");
    }
    return parsed;
  } catch (error) {
    throw new UserError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

function parseSets(sets: string[] = []): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const item of sets) {
    const at = item.indexOf("=");
    if (at <= 0) throw new UserError(`--set wants key=value, got "${item}"`);
    const key = item.slice(0, at);
    const raw = item.slice(at + 1);
    try {
      result[key] = JSON.parse(raw);
    } catch {
      result[key] = raw;
    }
  }
  return result;
}

/**
 * A command's defaults under the file, flags and `--set`: fixed, or chosen by the data spec those
 * ask for (undefined when they name none).
 */
export type CommandDefaults =
  | Partial<DinoTrainConfig>
  | ((data: string | undefined) => Partial<DinoTrainConfig>);

/** Resolves the configuration of a run from preset, file, flags and `--set`. */
export async function configFromFlags(
  flags: TrainFlags,
  defaults: CommandDefaults = {},
): Promise<DinoTrainConfig> {
  const file = flags.config ? await readConfigFile(flags.config) : {};
  const fromFlags: Record<string, unknown> = {};
  for (const key of FLAG_KEYS) if (flags[key] !== undefined) fromFlags[key] = flags[key];
  Object.assign(fromFlags, flags.highResPhase ?? {});
  const sets = parseSets(flags.set);
  const asked = { ...file, ...fromFlags, ...sets } as Record<string, unknown>;
  const base = typeof defaults === "function"
    ? defaults(asked.data === undefined ? undefined : String(asked.data))
    : defaults;
  const merged = { ...base, ...asked } as Record<string, unknown>;
  const preset = flags.preset ?? "auto";
  if (!(PRESETS as readonly string[]).includes(preset)) {
    throw new UserError(`--preset must be one of ${PRESETS.join(", ")}, got "${preset}"`);
  }
  try {
    return presetConfig(preset as Preset, merged);
  } catch (error) {
    if (error instanceof ConfigError) throw new UserError(error.message);
    throw error;
  }
}

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
    // keys added since the checkpoint was written take their defaults
    config = { ...DINO_DEFAULTS, ...info.config, out: flags.resume };
    if (typeof flags.epochs === "number") config.epochs = flags.epochs;
    if (typeof flags.maxSteps === "number") config.maxSteps = flags.maxSteps;
    if (flags.highResPhase) {
      Object.assign(config, flags.highResPhase);
      try {
        validateConfig(config);
      } catch (error) {
        if (error instanceof ConfigError) throw new UserError(error.message);
        throw error;
      }
    }
  } else {
    config = await configFromFlags(flags, defaults);
  }
  await initGpu();
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
  const limit = config.evalTrainLimit;
  const images = config.evalData
    ? `${data.train.length} images of "${data.name}" (k-NN: ${
      limit > 0 ? Math.min(limit, knn!.bank.length) : knn!.bank.length
    } bank / ${knn!.queries.length} query images of "${knn!.name}")`
    : `${data.train.length} train / ${data.test.length} test images of "${data.name}"`;
  console.error(
    `dinogpu train: ${config.arch} dim ${config.embedDim} depth ${config.depth} patch ` +
      `${config.patchSize}, ${config.imageSize} px, ${images}, ${config.epochs} epoch${
        config.epochs === 1 ? "" : "s"
      } of batch ${config.batchSize}, ` +
      `${config.localCrops} local crops -> ${config.out}`,
  );
  const shards = flags.shardCount ?? 1;
  const stepsPerEpoch = Math.floor(Math.floor(data.train.length / shards) / config.batchSize);
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
    train: data.train,
    test: knn?.queries,
    bank: knn?.bank,
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
