/**
 * `dinogpu embed`: features [n, dim] of images (a ViT's final-norm CLS token, a Mixer's mean
 * final-norm token) written as .npy, .safetensors or .json.
 * @module
 */
import { Command, Option } from "commander";
import { batchFeatures } from "../../src/eval/features.ts";
import { writeNpy } from "../../src/io/npy.ts";
import { writeSafetensors } from "../../src/io/safetensors.ts";
import { tensor } from "../../src/tensor/tensor.ts";
import { ProgressBar } from "../progress.ts";
import { UserError } from "../run.ts";
import {
  addImageModelOptions,
  type ImageModelOptions,
  listImages,
  loadImage,
  wholeOption,
  withImageModel,
} from "../shared.ts";
import { checkOutputFile, writeFileAtomic } from "../output_files.ts";

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

/** Options of `embed`. */
export interface EmbedOptions extends ImageModelOptions {
  /** Output file (.npy, .safetensors or .json). */
  out: string;
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
  const batchSize = options.batch ?? 16;
  encodeFeatures(options.out, new Float32Array(0), 0, 0, []); // fail early on a bad extension
  const files = await listImages(inputs);
  if (files.length === 0) throw new UserError("embed: no images (.jpg, .jpeg, .png) given");
  return await withImageModel(options, async (loaded, size, patch) => {
    const dim = loaded.model.config.embedDim;
    // JSON spells a float in up to ~12 characters, the binary formats in 4 bytes
    const perValue = options.out.toLowerCase().endsWith(".json") ? 12 : 4;
    const bytes = files.length * dim * perValue + 256 * files.length + 4096;
    await checkOutputFile(options.out, bytes, `${files.length} x ${dim} features`);
    const done: string[] = [];
    const failed: string[] = [];
    const chunks: Float32Array[] = [];
    const bar = new ProgressBar({ label: "embed", total: files.length, unit: "img" });
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
          bar.note(`dinogpu: ${message}`);
        }
      }
      if (inputsOk.length) {
        const host = new Float32Array(inputsOk.length * 3 * size.width * size.height);
        inputsOk.forEach((input, i) => host.set(input, i * input.length));
        const images = tensor(host, [inputsOk.length, 3, size.height, size.width]);
        const features = batchFeatures(loaded.model, images);
        chunks.push(await features.read() as Float32Array);
        features.dispose();
        images.dispose();
        done.push(...namesOk);
      }
      bar.tick(names.length);
    }
    bar.finish();
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
  });
}

/** The `embed` command. */
export function embedCommand() {
  return addImageModelOptions(
    new Command("embed")
      .description("write features [n, dim] of images (ViT: CLS token; Mixer: mean token)")
      .argument("<inputs...>", "images (.jpg, .jpeg, .png) or folders (walked)"),
  )
    .requiredOption("--out <file>", "output: .npy, .safetensors or .json")
    .addOption(
      new Option("--arch <arch>", "model family").choices(["auto", "vit", "mixer"] as const)
        .default("auto" as const),
    )
    .option("--batch <count>", "images per batch", wholeOption("--batch"), 16)
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
