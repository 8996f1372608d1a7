/**
 * `dinogpu knn --weights FILE --data SPEC`: weighted k-NN accuracy of a backbone's features
 * (DINO's protocol: cosine similarity, k = 20, votes exp(similarity / 0.07)) on the test split
 * against the train split; `--features pixels` gives the raw-pixel baseline without a model. Also
 * the shared model/data/feature plumbing of `probe`.
 * @module
 */
import { Command } from "commander";
import type { Dataset } from "../../src/data/dataset.ts";
import {
  DataSpecError,
  loadDataSpec,
  type LoadedData,
  skippedSummary,
} from "../../src/data/spec.ts";
import {
  batchFeatures,
  datasetToTensorBatches,
  type ExtractedFeatures,
  extractFeatures,
  FEATURE_KINDS,
  type FeatureKind,
  type FeatureModel,
  featuresOfKind,
  pixelFeatures,
} from "../../src/eval/features.ts";
import { knnClassify, MAX_KNN_K } from "../../src/eval/knn.ts";
import { type LoadedModel, loadModel } from "../../src/io/pretrained/load.ts";
import { initGpu } from "../../src/gpu/device.ts";
import { CheckpointError } from "../../src/io/safetensors.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { ProgressBar } from "../progress.ts";
import { UserError } from "../run.ts";

/** Parses a whole-number flag, or throws a `UserError` naming it. */
export function wholeFlag(text: string, flag: string, least: number, most = Infinity): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < least || value > most) {
    const range = most === Infinity ? `>= ${least}` : `in ${least}..${most}`;
    throw new UserError(`${flag} must be a whole number ${range}, got ${text}`);
  }
  return value;
}

/** Parses a positive number flag, or throws a `UserError` naming it. */
export function positiveFlag(text: string, flag: string): number {
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new UserError(`${flag} must be a number > 0, got ${text}`);
  }
  return value;
}

/** Loads `--data`, turning spec errors into user errors and reporting skipped images. */
export async function loadCliData(spec: string, seed: number, what: string): Promise<LoadedData> {
  try {
    const data = await loadDataSpec(spec, { seed });
    const skipped = skippedSummary(data.skipped);
    if (skipped) console.error(`${what}: ${skipped}`);
    return data;
  } catch (error) {
    if (error instanceof DataSpecError) throw new UserError(error.message);
    throw error;
  }
}

/** Loads `--weights` onto the GPU, turning checkpoint errors into user errors. */
export async function loadCliModel(path: string): Promise<LoadedModel> {
  await initGpu();
  try {
    const loaded = await loadModel(path);
    return loaded;
  } catch (error) {
    if (error instanceof CheckpointError) throw new UserError(error.message);
    throw error;
  }
}

/**
 * The model of `--weights`, or none for the raw-pixel baseline that `pixelsFlag` asks for (then
 * only the GPU is started, for the k-NN search or the probe); refuses both or neither by name.
 */
export async function loadCliModelOrPixels(
  weights: string | undefined,
  pixels: boolean,
  pixelsFlag: string,
): Promise<{ model?: FeatureModel; arch: string }> {
  if (pixels && weights !== undefined) {
    throw new UserError(`${pixelsFlag} uses raw pixels and takes no --weights, got ${weights}`);
  }
  if (!pixels && weights === undefined) {
    throw new UserError(
      `--weights is required (a model file or checkpoint folder), unless ${pixelsFlag}`,
    );
  }
  if (weights === undefined) {
    await initGpu();
    return { arch: "pixels" };
  }
  const { model, kind } = await loadCliModel(weights);
  return { model, arch: kind };
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

/** Percent with two decimals. */
export function percent(fraction: number): string {
  return (100 * fraction).toFixed(2);
}

/** The `knn` command. */
export function knnCommand() {
  return new Command("knn")
    .description("k-NN accuracy of a model's features (train split votes for the test split)")
    .option("--weights <file>", "dinogpu weights (.safetensors) or a checkpoint folder")
    .option(
      "--data <spec>",
      "synthetic[:COUNT], textures[:COUNT], fashion-mnist[:DIR], mnist:DIR, folder:DIR",
      "synthetic",
    )
    .option(
      "--features <kind>",
      "cls | mean (of the patch tokens) | cls+mean (ViT), or several (cls,cls+mean: one " +
        "extraction, a line each) | pixels (the raw-pixel baseline: no --weights)",
      "cls",
    )
    .option("--k <n>", "neighbours that vote", "20")
    .option("--temperature <t>", "vote weight exp(similarity / t)", "0.07")
    .option(
      "--size <px>",
      "model input side (default: the model's image size; pixels: the images' own)",
    )
    .option("--batch-size <n>", "images per feature batch", "128")
    .option("--seed <n>", "seed of generated data and of splits", "0")
    .option("--quiet", "no progress bar")
    .option("--json", "print one JSON object")
    .action(async (options) => {
      const k = wholeFlag(options.k, "--k", 1, MAX_KNN_K);
      const temperature = positiveFlag(options.temperature, "--temperature");
      const size = options.size === undefined ? undefined : wholeFlag(options.size, "--size", 1);
      const batchSize = wholeFlag(options.batchSize, "--batch-size", 1);
      const seed = wholeFlag(options.seed, "--seed", 0);
      const quiet = Boolean(options.quiet || options.json);
      const wanted = [...new Set(String(options.features).split(",").map((kind) => kind.trim()))];
      const pixels = wanted.includes("pixels");
      const known = [...FEATURE_KINDS, "pixels"];
      const unknown = wanted.find((kind) => !known.includes(kind));
      if (unknown !== undefined || (pixels && wanted.length > 1)) {
        throw new UserError(
          `--features must be one of ${known.join(", ")}, or several of the first three ` +
            `separated by commas, got "${options.features}"`,
        );
      }
      const kinds = wanted as FeatureKind[];
      const data = await loadCliData(options.data, seed, "knn");
      const { model, arch } = await loadCliModelOrPixels(
        options.weights,
        pixels,
        "--features pixels",
      );
      const started = performance.now();
      try {
        // several kinds are columns of one "cls+mean" extraction (featuresOfKind)
        const extracted: FeatureKind = kinds.length === 1 ? kinds[0] : "cls+mean";
        const compute = (model: FeatureModel, images: Tensor) =>
          batchFeatures(model, images, extracted);
        const common = { size, batchSize, quiet, compute };
        const trainAll = await splitFeatures(model, data.train, "train features", common);
        const testAll = await splitFeatures(model, data.test, "test features", common);
        for (const kind of pixels ? ["pixels" as const] : kinds) {
          const [train, test] = kind === "pixels" || kinds.length === 1
            ? [trainAll, testAll]
            : [featuresOfKind(trainAll, kind, model!), featuresOfKind(testAll, kind, model!)];
          const result = await knnClassify(
            { features: train.features, dim: train.dim, labels: train.labels },
            { features: test.features, dim: test.dim, labels: test.labels },
            { k, temperature, classes: data.classes },
          );
          const seconds = (performance.now() - started) / 1000;
          if (options.json) {
            console.log(JSON.stringify({
              knn_top1: Number(percent(result.top1)),
              knn_top5: Number(percent(result.top5)),
              k,
              temperature,
              data: data.name,
              train: train.rows,
              test: test.rows,
              dim: train.dim,
              features: kind,
              arch,
              seconds: Number(seconds.toFixed(2)),
            }));
          } else {
            const which = kinds.length > 1 ? ` features=${kind}` : "";
            console.log(
              `knn_top1=${percent(result.top1)} knn_top5=${percent(result.top5)}${which}`,
            );
          }
        }
      } finally {
        model?.dispose();
      }
    });
}
