/**
 * `dinogpu embed`: features [n, dim] of images (a ViT's final-norm CLS token, a Mixer's mean
 * final-norm token) written as .npy, .safetensors or .json. Also the helpers the `attn` and `pca`
 * commands share: loading weights with user-facing errors, listing and preprocessing images, and
 * writing files atomically.
 * @module
 */
import { Command, Option } from "commander";
import { initGpu } from "../../src/gpu/device.ts";
import { batchFeatures } from "../../src/eval/features.ts";
import { type LoadedModel, loadModel } from "../../src/io/pretrained/load.ts";
import { readImageFile } from "../../src/io/image.ts";
import { writeNpy } from "../../src/io/npy.ts";
import { preprocessImage } from "../../src/io/preprocess.ts";
import { writeSafetensors } from "../../src/io/safetensors.ts";
import { tensor } from "../../src/tensor/tensor.ts";
import { UserError } from "../run.ts";

const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png"];

/** Parses a whole number >= 1 given for `--flag`. */
export function positiveInteger(flag: string): (value: string) => number {
  return (value: string) => {
    const number = Number(value);
    if (!Number.isInteger(number) || number < 1) {
      throw new UserError(`--${flag} must be a whole number >= 1, got "${value}"`);
    }
    return number;
  };
}

/** Loads weights for a command; read, layout and key problems become one-line user errors. */
export async function loadWeights(
  path: string,
  options: { arch?: "auto" | "vit" | "mixer"; heads?: number },
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

/** Checks `size` against the model's patch; returns the patch size. */
export function checkSize(loaded: LoadedModel, size: number): number {
  const patch = loaded.model.config.patchSize;
  if (size < patch) {
    throw new UserError(`--size ${size} is smaller than one ${patch}x${patch} patch`);
  }
  if (size % patch !== 0) {
    throw new UserError(`--size ${size} is not a multiple of the patch size ${patch}`);
  }
  if (loaded.kind === "mixer" && size !== loaded.model.config.imageSize) {
    throw new UserError(
      `an MLP-Mixer only runs at the size it was trained for: --size ${loaded.model.config.imageSize}`,
    );
  }
  return patch;
}

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

/** Reads, decodes and preprocesses one image; errors name the file. */
export async function loadImage(path: string, size: number, patch: number): Promise<Float32Array> {
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
  return preprocessImage(image, size);
}

/** Writes `bytes` to `path` through a temporary file and a rename (no partial files). */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temporary = `${path}.partial-${Deno.pid}`;
  try {
    await Deno.writeFile(temporary, bytes);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw new UserError(`${path}: cannot write: ${(error as Error).message}`);
  }
}

/** Encodes features [rows, dim] for `out` by its extension (.npy, .safetensors, .json). */
export function encodeFeatures(
  out: string,
  features: Float32Array,
  rows: number,
  dim: number,
  files: readonly string[],
): Uint8Array {
  const lower = out.toLowerCase();
  if (lower.endsWith(".npy")) return writeNpy(features, [rows, dim]);
  if (lower.endsWith(".safetensors")) {
    return writeSafetensors(
      { features: { dtype: "F32", shape: [rows, dim], data: features } },
      { files: JSON.stringify(files) },
    );
  }
  if (lower.endsWith(".json")) {
    const list = Array.from(
      { length: rows },
      (_, i) => Array.from(features.subarray(i * dim, (i + 1) * dim)),
    );
    return new TextEncoder().encode(JSON.stringify({ files, dim, features: list }) + "\n");
  }
  throw new UserError(`--out ${out}: the extension must be .npy, .safetensors or .json`);
}

/** A progress bar on stderr (redrawn in place on a terminal, one final line otherwise). */
export class Progress {
  #done = 0;
  readonly #terminal = Deno.stderr.isTerminal();
  /** Creates the bar for `total` items. */
  constructor(readonly label: string, readonly total: number) {}
  /** Advances by `count` items. */
  advance(count: number): void {
    this.#done += count;
    if (this.#terminal) this.#draw("\r");
  }
  /** Prints the last state. */
  finish(): void {
    this.#draw(this.#terminal ? "\r" : "");
    Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  }
  #draw(prefix: string): void {
    const width = 30;
    const filled = this.total ? Math.round(width * this.#done / this.total) : width;
    const bar = "#".repeat(filled) + "-".repeat(width - filled);
    Deno.stderr.writeSync(
      new TextEncoder().encode(`${prefix}${this.label} [${bar}] ${this.#done}/${this.total}`),
    );
  }
}

/** Options of `embed`. */
export interface EmbedOptions {
  /** Weights file or Hugging Face folder. */
  weights: string;
  /** Output file (.npy, .safetensors or .json). */
  out: string;
  /** Model family. */
  arch?: "auto" | "vit" | "mixer";
  /** Attention heads (default from config or width / 64). */
  heads?: number;
  /** Input side (default 224). */
  size?: number;
  /** Images per batch (default 16). */
  batch?: number;
}

/** What `embed` did. */
export interface EmbedResult {
  /** Images embedded, in row order. */
  files: string[];
  /** Images that failed, with the reason (naming the file). */
  failed: string[];
  /** Feature width. */
  dim: number;
}

/** Embeds images and writes the features; bad images are reported and skipped. */
export async function embed(
  inputs: readonly string[],
  options: EmbedOptions,
): Promise<EmbedResult> {
  const size = options.size ?? 224;
  const batchSize = options.batch ?? 16;
  encodeFeatures(options.out, new Float32Array(0), 0, 0, []); // fail early on a bad extension
  const files = await listImages(inputs);
  if (files.length === 0) throw new UserError("embed: no images (.jpg, .jpeg, .png) given");
  const loaded = await loadWeights(options.weights, options);
  try {
    const patch = checkSize(loaded, size);
    const dim = loaded.model.config.embedDim;
    const done: string[] = [];
    const failed: string[] = [];
    const chunks: Float32Array[] = [];
    const progress = new Progress("embed", files.length);
    for (let start = 0; start < files.length; start += batchSize) {
      const names = files.slice(start, start + batchSize);
      const inputsOk: Float32Array[] = [];
      const namesOk: string[] = [];
      for (const name of names) {
        try {
          inputsOk.push(await loadImage(name, size, patch));
          namesOk.push(name);
        } catch (error) {
          const message = (error as Error).message;
          failed.push(message);
          console.error(`${Deno.stderr.isTerminal() ? "\n" : ""}dinogpu: ${message}`);
        }
      }
      if (inputsOk.length) {
        const host = new Float32Array(inputsOk.length * 3 * size * size);
        inputsOk.forEach((input, i) => host.set(input, i * input.length));
        const images = tensor(host, [inputsOk.length, 3, size, size]);
        const features = batchFeatures(loaded.model, images);
        chunks.push(await features.read() as Float32Array);
        features.dispose();
        images.dispose();
        done.push(...namesOk);
      }
      progress.advance(names.length);
    }
    progress.finish();
    if (done.length) {
      const all = new Float32Array(done.length * dim);
      let at = 0;
      for (const chunk of chunks) {
        all.set(chunk, at);
        at += chunk.length;
      }
      await writeFileAtomic(options.out, encodeFeatures(options.out, all, done.length, dim, done));
    }
    return { files: done, failed, dim };
  } finally {
    loaded.model.dispose();
  }
}

/** The `embed` command. */
export function embedCommand() {
  return new Command("embed")
    .description("write features [n, dim] of images (ViT: CLS token; Mixer: mean token)")
    .argument("<inputs...>", "images (.jpg, .jpeg, .png) or folders (walked)")
    .requiredOption("--weights <file>", ".pth, .safetensors or a Hugging Face folder")
    .requiredOption("--out <file>", "output: .npy, .safetensors or .json")
    .addOption(
      new Option("--arch <arch>", "model family").choices(["auto", "vit", "mixer"] as const)
        .default("auto" as const),
    )
    .option(
      "--heads <count>",
      "attention heads (default config.json or width / 64)",
      positiveInteger("heads"),
    )
    .option("--size <pixels>", "input side (resize + centre crop)", positiveInteger("size"), 224)
    .option("--batch <count>", "images per batch", positiveInteger("batch"), 16)
    .action(async (inputs, options) => {
      const result = await embed(inputs, { ...options });
      if (result.files.length) {
        console.error(`embed: ${result.files.length} x ${result.dim} features -> ${options.out}`);
      }
      if (result.failed.length) {
        throw new UserError(
          `embed: ${result.failed.length} of ${
            result.files.length + result.failed.length
          } images failed: ${result.failed.join("; ")}`,
        );
      }
    });
}
