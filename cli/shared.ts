/**
 * What the commands share, each once: number flags (errors name the flag), loading weights, data
 * and images with one-line user errors, the options and set-up of the commands that run a model on
 * images (`embed`, `attn`, `pca`), and files written whole. Feature extraction over a data set's
 * splits is features.ts; the progress bar, progress.ts.
 * @module
 */
import type { Command, OptionValues } from "commander";
import { DataSpecError, loadDataSpec, type LoadedData, skippedSummary } from "../src/data/spec.ts";
import type { FeatureModel } from "../src/eval/features.ts";
import { initGpu } from "../src/gpu/device.ts";
import { readImageFile } from "../src/io/image.ts";
import { type LoadedModel, loadModel } from "../src/io/pretrained/load.ts";
import { preprocessImage, preprocessImageResized } from "../src/io/preprocess.ts";
import type { ComputePrecision } from "../src/nn/module.ts";
import { PRECISION_FLAG, PRECISION_HELP, precisionFlag } from "./precision.ts";
import { formatImageSize, type ImageSize, imageSize, parseImageSize } from "./image_size.ts";

export { formatImageSize, type ImageSize, imageSize, parseImageSize } from "./image_size.ts";
export { PRECISION_FLAG, PRECISION_HELP, precisionFlag } from "./precision.ts";
import { UserError } from "./run.ts";

// ---- flags

/** What `--data` takes, for the help of every command that has it. */
export const DATA_SPEC_HELP =
  "synthetic[:COUNT], textures[:COUNT], fashion-mnist[:DIR], mnist:DIR, folder:DIR, list:FILE, tar:PATTERN";

/** Parses `text`, given for `flag` (`--k`), as a whole number in least..most. */
export function wholeFlag(text: string, flag: string, least = 1, most = Infinity): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isInteger(value) || value < least || value > most) {
    const range = most === Infinity ? `>= ${least}` : `in ${least}..${most}`;
    throw new UserError(`${flag} must be a whole number ${range}, got ${text}`);
  }
  return value;
}

/** Parses `text`, given for `flag`, as a finite number > 0. */
export function positiveFlag(text: string, flag: string): number {
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new UserError(`${flag} must be a number > 0, got ${text}`);
  }
  return value;
}

/** Parses `text`, given for `flag`, as a finite number. */
export function numberFlag(text: string, flag: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) {
    throw new UserError(`${flag} must be a number, got ${text}`);
  }
  return value;
}

/** A commander argument parser of whole numbers >= `least` for `flag`. */
export function wholeOption(flag: string, least = 1): (text: string) => number {
  return (text) => wholeFlag(text, flag, least);
}

/** A commander argument parser of finite numbers for `flag`. */
export function numberOption(flag: string): (text: string) => number {
  return (text) => numberFlag(text, flag);
}

// ---- loading

/**
 * Loads weights for a command (starting the GPU first): read, layout, key and shape problems
 * become one-line user errors; a TypeError or RangeError (a bug) keeps its stack.
 */
export async function loadWeights(
  path: string,
  options: { arch?: "auto" | "vit" | "mixer"; heads?: number } = {},
): Promise<LoadedModel> {
  await initGpu();
  try {
    return await loadModel(path, options);
  } catch (error) {
    if (error instanceof Error && error.name !== "TypeError" && error.name !== "RangeError") {
      throw new UserError(error.message);
    }
    throw error;
  }
}

/**
 * The model of `--weights`, or none for the raw-pixel baseline that `pixelsFlag` asks for (then
 * only the GPU is started, for the k-NN search or the probe); refuses both or neither by name.
 * The model computes at `precision` (`--precision`).
 */
export async function loadCliModelOrPixels(
  weights: string | undefined,
  pixels: boolean,
  pixelsFlag: string,
  precision: ComputePrecision = "f32",
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
  const { model, kind } = await loadWeights(weights);
  model.setPrecision(precision);
  return { model, arch: kind };
}

/**
 * Loads `--data`, turning spec errors into user errors and reporting skipped images; with
 * `needsLabels` (the default), unlabelled data (a flat folder, a list without labels) is refused.
 */
export async function loadCliData(
  spec: string,
  seed: number,
  what: string,
  needsLabels = true,
): Promise<LoadedData> {
  let data: LoadedData;
  try {
    data = await loadDataSpec(spec, { seed });
    const skipped = skippedSummary(data.skipped);
    if (skipped) console.error(`${what}: ${skipped}`);
  } catch (error) {
    if (error instanceof DataSpecError) throw new UserError(error.message);
    throw error;
  }
  if (needsLabels && data.labelled && data.test.length === 0) {
    const why = data.name.startsWith("tar:")
      ? 'tar shards are not split: name the test shards after a "|", tar:PATTERN|TEST_PATTERN'
      : "too few images to hold out a fifth of a class; give more";
    throw new UserError(`${what}: ${data.name} has no test split (${why})`);
  }
  if (needsLabels && !data.labelled) {
    throw new UserError(
      `${what}: ${data.name} has no labels (a flat folder or a list without labels); ${what} ` +
        "needs class subfolders (DIR/<class>/<image>) or a label on each line",
    );
  }
  return data;
}

const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png"];

/** Image files named by `inputs`: files as given, folders walked (sorted, recursively). */
export async function listImages(inputs: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  const walk = async (folder: string) => {
    const entries: Deno.DirEntry[] = [];
    for await (const entry of Deno.readDir(folder)) entries.push(entry);
    entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    for (const entry of entries) {
      const path = `${folder.replace(/\/$/, "")}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (IMAGE_EXTENSIONS.some((ext) => entry.name.toLowerCase().endsWith(ext))) {
        files.push(path);
      }
    }
  };
  for (const input of inputs) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(input);
    } catch {
      throw new UserError(`${input}: no such file or folder`);
    }
    if (info.isDirectory) await walk(input);
    else files.push(input);
  }
  return files;
}

/**
 * Reads, decodes and preprocesses one image to `size` (a side: shorter side resized, centre crop;
 * or width x height: resized whole, see `ImageSize`); errors name the file.
 */
export async function loadImage(
  path: string,
  size: number | ImageSize,
  patch: number,
): Promise<Float32Array> {
  let image;
  try {
    image = await readImageFile(path);
  } catch (error) {
    const message = (error as Error).message;
    throw new UserError(message.startsWith(path) ? message : `${path}: ${message}`);
  }
  if (image.width < patch || image.height < patch) {
    throw new UserError(
      `${path}: ${image.width}x${image.height} pixels is smaller than one ${patch}x${patch} patch`,
    );
  }
  const { width, height, crop } = imageSize(size);
  return crop ? preprocessImage(image, width) : preprocessImageResized(image, width, height);
}

// ---- commands that run a model on images: embed, attn, pca

/** The options of the commands that run a model on images. */
export interface ImageModelOptions {
  /** Weights file or Hugging Face folder. */
  weights: string;
  /** Model family (default "auto"). */
  arch?: "auto" | "vit" | "mixer";
  /** Attention heads (default from config.json, else width / 64). */
  heads?: number;
  /** Input size: a side or width x height (see `ImageSize`; default 224). */
  size?: number | ImageSize;
  /** Precision of the model's matrix products (default f32). */
  precision?: ComputePrecision;
}

/**
 * Adds `--weights`, `--heads`, `--size` and `--precision` (the options of `ImageModelOptions`) to
 * `command`.
 */
export function addImageModelOptions<
  Args extends unknown[],
  Opts extends OptionValues,
  Globals extends OptionValues,
>(command: Command<Args, Opts, Globals>) {
  return command
    .requiredOption("--weights <file>", ".pth, .safetensors or a Hugging Face folder")
    .option(
      "--heads <count>",
      "attention heads (default config.json or width / 64)",
      wholeOption("--heads"),
    )
    .option(
      "--size <pixels|WxH>",
      "input: a side (resize the shorter side + centre crop) or WxH (resize the whole image)",
      (text: string) => parseImageSize(text),
      { width: 224, height: 224, crop: true } as ImageSize,
    )
    .option(PRECISION_FLAG, PRECISION_HELP, precisionFlag, "f32" as ComputePrecision);
}

/** Checks `size` against the model's patch; returns the patch size. */
export function checkSize(loaded: LoadedModel, size: number | ImageSize): number {
  const { width, height } = imageSize(size);
  const written = `--size ${formatImageSize(imageSize(size))}`;
  const config = loaded.model.config;
  const patch = config.patchSize;
  if (width < patch || height < patch) {
    throw new UserError(`${written} is smaller than one ${patch}x${patch} patch`);
  }
  if (width % patch !== 0 || height % patch !== 0) {
    const rope = "positionEmbedding" in config && config.positionEmbedding === "rope";
    throw new UserError(
      rope
        ? `${written}: a DINOv3 model takes sides that are multiples of its patch ${patch} ` +
          `(RoPE, no interpolation); ${width}x${height} (width x height) is not`
        : `${written} is not a multiple of the patch size ${patch}`,
    );
  }
  if (loaded.kind === "mixer" && (width !== config.imageSize || height !== config.imageSize)) {
    throw new UserError(
      `an MLP-Mixer only runs at the size it was trained for: --size ${config.imageSize}`,
    );
  }
  return patch;
}

/**
 * Loads the model of `options`, checks the input size against it, then runs `use` with the model,
 * the size and the patch size; the model is disposed afterwards, whatever happens.
 */
export async function withImageModel<T>(
  options: ImageModelOptions,
  use: (loaded: LoadedModel, size: ImageSize, patch: number) => Promise<T>,
): Promise<T> {
  const size = imageSize(options.size ?? 224);
  const loaded = await loadWeights(options.weights, options);
  loaded.model.setPrecision(options.precision ?? "f32");
  try {
    return await use(loaded, size, checkSize(loaded, size));
  } finally {
    loaded.model.dispose();
  }
}

/** Percent with two decimals. */
export function percent(fraction: number): string {
  return (100 * fraction).toFixed(2);
}
