/**
 * Features of a data set's splits for the commands that evaluate or curate them (`knn`, `probe`,
 * `curate`): their options (`addFeatureOptions`, `featureFlags`) and the extraction of a split
 * (raw pixels without a model) with a progress bar on stderr.
 * @module
 */
import type { Command, OptionValues } from "commander";
import type { Dataset } from "../src/data/dataset.ts";
import type { LoadedData } from "../src/data/spec.ts";
import {
  datasetToTensorBatches,
  type ExtractedFeatures,
  extractFeatures,
  type FeatureModel,
  pixelFeatures,
} from "../src/eval/features.ts";
import type { ComputePrecision } from "../src/nn/module.ts";
import type { Tensor } from "../src/tensor/tensor.ts";
import { PRECISION_FLAG, PRECISION_HELP, precisionFlag } from "./precision.ts";
import { ProgressBar } from "./progress.ts";
import { loadCliData, loadCliModelOrPixels, wholeFlag } from "./shared.ts";

/** Adds the feature-extraction options `featureFlags` reads to `command`. */
export function addFeatureOptions<
  Args extends unknown[],
  Opts extends OptionValues,
  Globals extends OptionValues,
>(command: Command<Args, Opts, Globals>, seedHelp: string) {
  return command
    .option(
      "--size <px>",
      "model input side (default: the model's image size; pixels: the images' own)",
    )
    .option("--batch-size <n>", "images per feature batch", "128")
    .option(PRECISION_FLAG, PRECISION_HELP, "f32")
    .option("--seed <n>", seedHelp, "0")
    .option("--quiet", "no progress bar")
    .option("--json", "print one JSON object");
}

/** The options `addFeatureOptions` adds, as commander parses them (a type alias: commander indexes it). */
export type FeatureOptionValues = {
  /** Model input side. */
  size?: string;
  /** Images per feature batch. */
  batchSize: string;
  /** f32 | f16 (`--precision`). */
  precision?: string;
  /** Seed of generated data and of splits. */
  seed: string;
  /** No progress bar. */
  quiet?: true;
  /** JSON output. */
  json?: true;
};

/** Parses the options `addFeatureOptions` adds. */
export function featureFlags(
  options: FeatureOptionValues,
): { size?: number; batchSize: number; precision: ComputePrecision; seed: number; quiet: boolean } {
  return {
    size: options.size === undefined ? undefined : wholeFlag(options.size, "--size"),
    batchSize: wholeFlag(options.batchSize, "--batch-size"),
    precision: precisionFlag(options.precision),
    seed: wholeFlag(options.seed, "--seed", 0),
    quiet: Boolean(options.quiet || options.json),
  };
}

/**
 * What an evaluation command (`knn`, `probe`) starts from: its parsed feature flags, the data of
 * `--data` (labelled; errors name `command`) and the model of `--weights`, or none for the
 * raw-pixel baseline that `pixelsFlag` asks for (`loadCliModelOrPixels`).
 */
export async function loadFeatureSource(
  options: FeatureOptionValues & { data: string; weights?: string },
  command: string,
  pixels: boolean,
  pixelsFlag: string,
): Promise<{
  flags: ReturnType<typeof featureFlags>;
  data: LoadedData;
  model?: FeatureModel;
  arch: string;
}> {
  const flags = featureFlags(options);
  const data = await loadCliData(options.data, flags.seed, command);
  const { model, arch } = await loadCliModelOrPixels(
    options.weights,
    pixels,
    pixelsFlag,
    flags.precision,
  );
  return { flags, data, model, arch };
}

/** Options of `splitFeatures`. */
export interface SplitFeatureOptions {
  /** Model input side (default: the model's configured image size; pixels: the images' own). */
  size?: number;
  /** Images per batch. */
  batchSize: number;
  /** Features of one batch (default: CLS / mean token). */
  compute?: (model: FeatureModel, images: Tensor) => Tensor;
  /** No progress output. */
  quiet: boolean;
}

/** Features of one split (raw pixels without a model) with a progress bar on stderr. */
export async function splitFeatures(
  model: FeatureModel | undefined,
  dataset: Dataset,
  label: string,
  options: SplitFeatureOptions,
): Promise<ExtractedFeatures> {
  const bar = new ProgressBar({
    label,
    total: dataset.length,
    unit: "img",
    silent: options.quiet,
  });
  if (!model) {
    const features = await pixelFeatures(dataset, {
      size: options.size,
      onProgress: (done) => {
        if (done % 1000 === 0) bar.update(done);
      },
    });
    bar.finish();
    return features;
  }
  const size = options.size ?? model.config.imageSize;
  const features = await extractFeatures(
    model,
    datasetToTensorBatches(dataset, {
      size,
      batchSize: options.batchSize,
      channels: model.config.inChannels === 1 ? 1 : 3,
    }),
    { onProgress: (done) => bar.update(done), compute: options.compute },
  );
  bar.finish();
  return features;
}

/** Features of the train and the test split of `data`, a progress bar each. */
export async function trainTestFeatures(
  model: FeatureModel | undefined,
  data: LoadedData,
  options: SplitFeatureOptions,
): Promise<{ train: ExtractedFeatures; test: ExtractedFeatures }> {
  const train = await splitFeatures(model, data.train, "train features", options);
  const test = await splitFeatures(model, data.test, "test features", options);
  return { train, test };
}
