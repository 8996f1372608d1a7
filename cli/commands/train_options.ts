/**
 * The options `train`, `demo` and `distill` share, and the configuration they resolve to: preset,
 * JSON file, flags and `--set` (in that order of precedence, `--set` last), or, with `--resume`, the
 * saved run's configuration with the few flags a resumed run takes.
 * @module
 */
import { type Command, Option } from "commander";
import { DATA_SPEC_FORMS } from "../../src/data/spec.ts";
import {
  DINO_DEFAULTS,
  type DinoTrainConfig,
  type Preset,
  PRESETS,
} from "../../src/train/config.ts";
import { ConfigError, presetConfig, validateConfig } from "../../src/train/validate.ts";
import { UserError } from "../run.ts";
import { numberOption } from "../shared.ts";
import { TUNE_HELP } from "../matmul_tuning.ts";

/** Flags that map onto configuration keys (commander camel-cases them). */
const FLAG_KEYS = [
  "data",
  "trainSubset",
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
  "precision",
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
  tune?: boolean;
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
    .option(
      "--train-subset <file>",
      "train on the train images this list names (curate's kept.txt or sampled.txt: train/N a " +
        "line); the k-NN bank stays the whole train split",
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
    .option(
      "--precision <f32|f16>",
      "precision of the networks' Linear products: f32, or f16 operands (f32 sums, weights, " +
        "gradients and optimizer state)",
    )
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
    .option("--tune", TUNE_HELP)
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
 * Flags a resumed run takes from the command line: how long it runs, how it evaluates, logs and
 * saves. Everything else (model, data, recipe) is the saved run's.
 */
const RESUME_KEYS = [
  "epochs",
  "maxSteps",
  "evalData",
  "evalTrainLimit",
  "evalEvery",
  "checkpointEvery",
  "logEvery",
] as const;

/**
 * The configuration of a run resumed from the checkpoint whose configuration is `saved` in the
 * folder `out`: the saved keys (keys added since take their defaults), then the flags of
 * `RESUME_KEYS` and `--high-res-phase`. Returns it with the configuration flags it ignored, so the
 * caller can say so; a combination the run cannot take is a `UserError`.
 */
export function resumedConfig(
  saved: Partial<DinoTrainConfig>,
  out: string,
  flags: TrainFlags,
): { config: DinoTrainConfig; ignored: string[] } {
  const config: DinoTrainConfig = { ...DINO_DEFAULTS, ...saved, out };
  const taken = config as unknown as Record<string, unknown>;
  for (const key of RESUME_KEYS) if (flags[key] !== undefined) taken[key] = flags[key];
  if (flags.highResPhase) Object.assign(config, flags.highResPhase);
  const ignored = FLAG_KEYS.filter((key) =>
    flags[key] !== undefined && key !== "out" &&
    !(RESUME_KEYS as readonly string[]).includes(key)
  ).map(flagName);
  if (flags.config) ignored.push("--config");
  if (flags.set?.length) ignored.push("--set");
  if (flags.preset !== undefined && flags.preset !== "auto") ignored.push("--preset");
  try {
    validateConfig(config);
  } catch (error) {
    if (error instanceof ConfigError) throw new UserError(error.message);
    throw error;
  }
  return { config, ignored };
}

/** The command-line spelling of a configuration key: `evalTrainLimit` -> `--eval-train-limit`. */
function flagName(key: string): string {
  return "--" + key.replace(/[A-Z]/g, (letter) => "-" + letter.toLowerCase());
}
