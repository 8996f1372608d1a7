/**
 * `dinogpu augment --data SPEC --out DIR`: runs the GPU multi-crop augmentation on a few images
 * and writes one PNG grid, `DIR/augment.png`, so a person can look at the crops: one row per
 * image; columns are the original, the 2 global crops, then the local crops, de-normalised.
 * @module
 */
import { Command } from "commander";
import { uploadImageBatch } from "../../src/data/augment.ts";
import {
  MultiCropAugmenter,
  type MultiCropConfig,
  smallDataMultiCrop,
} from "../../src/data/multi_crop.ts";
import { initGpu } from "../../src/gpu/device.ts";
import { encodePng } from "../../src/io/image.ts";
import { readAll } from "../../src/tensor/tensor.ts";
import { UserError } from "../run.ts";
import { DATA_SPEC_HELP, loadCliData, wholeFlag } from "../shared.ts";
import { OutputFolder } from "../output_files.ts";

/** One picture of the grid: RGB bytes (HWC). */
export interface GridImage {
  /** Pixels, `height * width * 3` bytes. */
  pixels: Uint8Array;
  /** Height. */
  height: number;
  /** Width. */
  width: number;
}

/** Options of `imageGrid`. */
export interface GridOptions {
  /** Side of each cell before scaling (default: the largest image side). */
  cell?: number;
  /** Integer upscaling of every image (nearest); default 1. */
  scale?: number;
  /** Pixels between cells; default 4. */
  gap?: number;
  /** Background grey level; default 255. */
  background?: number;
}

/**
 * Lays out `rows` of images as one RGB picture: each image scaled `scale` times (nearest) and
 * placed at the top left of its cell. Returns the pixels and the size.
 */
export function imageGrid(rows: readonly GridImage[][], options: GridOptions = {}): GridImage {
  const scale = options.scale ?? 1;
  const gap = options.gap ?? 4;
  const columns = Math.max(0, ...rows.map((row) => row.length));
  if (rows.length === 0 || columns === 0) throw new RangeError("imageGrid: no images");
  if (!Number.isInteger(scale) || scale < 1) {
    throw new RangeError(`imageGrid: scale must be a whole number >= 1, got ${scale}`);
  }
  const largest = Math.max(...rows.flat().map((image) => Math.max(image.height, image.width)));
  const cell = (options.cell ?? largest) * scale;
  const width = gap + columns * (cell + gap);
  const height = gap + rows.length * (cell + gap);
  const pixels = new Uint8Array(width * height * 3).fill(options.background ?? 255);
  rows.forEach((row, r) => {
    row.forEach((image, c) => {
      if (image.pixels.length !== image.height * image.width * 3) {
        throw new RangeError(
          `imageGrid: image (${r}, ${c}) has ${image.pixels.length} bytes, not ` +
            `${image.height} x ${image.width} x 3`,
        );
      }
      const top = gap + r * (cell + gap);
      const left = gap + c * (cell + gap);
      const h = Math.min(cell, image.height * scale);
      const w = Math.min(cell, image.width * scale);
      for (let y = 0; y < h; y++) {
        const sourceRow = Math.floor(y / scale) * image.width;
        for (let x = 0; x < w; x++) {
          const source = (sourceRow + Math.floor(x / scale)) * 3;
          const target = ((top + y) * width + left + x) * 3;
          pixels[target] = image.pixels[source];
          pixels[target + 1] = image.pixels[source + 1];
          pixels[target + 2] = image.pixels[source + 2];
        }
      }
    });
  });
  return { pixels, height, width };
}

/**
 * Turns normalised crops [B, 3, S, S] (host f32) back into RGB bytes per image:
 * `round(255 * (value * std + mean))`, clamped.
 */
export function denormalizeCrops(
  values: Float32Array,
  batch: number,
  size: number,
  mean: readonly number[],
  std: readonly number[],
): GridImage[] {
  const plane = size * size;
  if (values.length < batch * 3 * plane) {
    throw new RangeError(
      `denormalizeCrops: ${values.length} values for [${batch}, 3, ${size}, ${size}]`,
    );
  }
  return Array.from({ length: batch }, (_, b) => {
    const pixels = new Uint8Array(plane * 3);
    for (let c = 0; c < 3; c++) {
      const base = (b * 3 + c) * plane;
      for (let i = 0; i < plane; i++) {
        const value = Math.round(255 * (values[base + i] * std[c] + mean[c]));
        pixels[i * 3 + c] = value < 0 ? 0 : value > 255 ? 255 : value;
      }
    }
    return { pixels, height: size, width: size };
  });
}

/** `image` enlarged `factor` times with nearest sampling. */
export function enlarge(image: GridImage, factor: number): GridImage {
  if (factor === 1) return image;
  const height = image.height * factor;
  const width = image.width * factor;
  const pixels = new Uint8Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const source = (Math.floor(y / factor) * image.width + Math.floor(x / factor)) * 3;
      pixels.set(image.pixels.subarray(source, source + 3), (y * width + x) * 3);
    }
  }
  return { pixels, height, width };
}

/** RGB bytes of gray (1 channel) or RGB pixels. */
function toRgb(image: Uint8Array, channels: number): Uint8Array {
  if (channels === 3) return image;
  const rgb = new Uint8Array((image.length / channels) * 3);
  for (let i = 0; i < image.length / channels; i++) {
    rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = image[i * channels];
  }
  return rgb;
}

function probability(text: string, flag: string): number {
  const value = Number(text);
  if (!(value >= 0 && value <= 1)) throw new UserError(`${flag} must be in [0, 1], got ${text}`);
  return value;
}

/** The colour augmentation flags as multi-crop configuration (absent flags: DINO's values). */
function colourOptions(options: {
  colorJitter?: string;
  colorJitterProbability?: string;
  grayscaleProbability?: string;
}): Partial<MultiCropConfig> {
  const colour: Partial<MultiCropConfig> = {};
  if (options.colorJitter !== undefined) {
    const strengths = options.colorJitter.split(",").map(Number);
    const [brightness, contrast, saturation, hue] = strengths;
    if (
      strengths.length !== 4 || !strengths.every((value) => value >= 0) || !(hue <= 0.5)
    ) {
      throw new UserError(
        `--color-jitter must be four strengths >= 0 (brightness,contrast,saturation,hue) with ` +
          `hue <= 0.5, got ${options.colorJitter}`,
      );
    }
    colour.colorJitter = [brightness, contrast, saturation, hue];
  }
  if (options.colorJitterProbability !== undefined) {
    colour.colorJitterProbability = probability(
      options.colorJitterProbability,
      "--color-jitter-probability",
    );
  }
  if (options.grayscaleProbability !== undefined) {
    colour.grayscaleProbability = probability(
      options.grayscaleProbability,
      "--grayscale-probability",
    );
  }
  return colour;
}

/** The `augment` command. */
export function augmentCommand() {
  return new Command("augment")
    .description("write a PNG grid of multi-crop augmentations of a few images")
    .option("--data <spec>", DATA_SPEC_HELP, "synthetic")
    .option("--out <dir>", "output folder (augment.png is written there)", "augment-out")
    .option("--count <n>", "images (rows)", "8")
    .option(
      "--preset <name>",
      "dino (224/96 px crops) or small (full-size globals, half-size locals)",
      "small",
    )
    .option("--local-crops <n>", "local crops per image", "8")
    .option("--seed <n>", "seed of the augmentation", "0")
    .option(
      "--color-jitter <b,c,s,h>",
      "ColorJitter strengths: brightness, contrast, saturation, hue (DINO: 0.4,0.4,0.2,0.1)",
    )
    .option("--color-jitter-probability <p>", "probability of ColorJitter (DINO: 0.8)")
    .option("--grayscale-probability <p>", "probability of grayscale (DINO: 0.2)")
    .option("--json", "print one JSON object")
    .action(async (options) => {
      const count = wholeFlag(options.count, "--count");
      const seed = wholeFlag(options.seed, "--seed", 0);
      const localCrops = wholeFlag(options.localCrops, "--local-crops", 0);
      const colour = colourOptions(options);
      if (options.preset !== "dino" && options.preset !== "small") {
        throw new UserError(`--preset must be dino or small, got ${options.preset}`);
      }
      const data = await loadCliData(options.data, seed, "augment", false);
      const source = data.train;
      const rows = Math.min(count, source.length);
      const samples = await Promise.all(Array.from({ length: rows }, (_, i) => source.get(i)));
      const { height, width } = samples[0];
      const pixels = new Uint8Array(rows * height * width * 3);
      samples.forEach((sample, i) => {
        pixels.set(toRgb(sample.image, sample.channels), i * height * width * 3);
      });
      await initGpu();
      const started = performance.now();
      const augmenter = new MultiCropAugmenter(
        options.preset === "dino"
          ? { localCrops, ...colour }
          : { ...smallDataMultiCrop(Math.max(height, width), localCrops), ...colour },
        seed,
      );
      const { mean, std, globalSize, localSize } = augmenter.config;
      const batch = uploadImageBatch(pixels, rows, height, width);
      const crops = augmenter.augment(batch, rows, height, width);
      batch.dispose();
      const views = [...crops.globals, ...crops.locals];
      const values = await readAll(views);
      for (const view of views) view.dispose();
      augmenter.dispose();
      const gpuMs = performance.now() - started;
      const perView = views.map((view, v) =>
        denormalizeCrops(values[v] as Float32Array, rows, view.shape[2], mean, std)
      );
      const factor = Math.max(1, Math.floor(globalSize / Math.max(height, width)));
      const grid = Array.from({ length: rows }, (_, r) => [
        enlarge({
          pixels: pixels.subarray(r * height * width * 3, (r + 1) * height * width * 3),
          height,
          width,
        }, factor),
        ...perView.map((images) => images[r]),
      ]);
      const cell = Math.max(globalSize, height * factor, width * factor);
      const scale = Math.max(1, Math.ceil(96 / cell));
      const picture = imageGrid(grid, { cell, scale });
      const path = await new OutputFolder(options.out).write(
        "augment.png",
        encodePng(picture.pixels, picture.width, picture.height),
      );
      const summary = {
        out: path,
        data: data.name,
        images: rows,
        preset: options.preset,
        globals: crops.globals.length,
        locals: crops.locals.length,
        global_size: globalSize,
        local_size: localSize,
        width: picture.width,
        height: picture.height,
        gpu_ms: Math.round(gpuMs),
      };
      if (options.json) {
        console.log(JSON.stringify(summary));
      } else {
        console.log(
          `wrote ${path} (${picture.width}x${picture.height}): ${rows} images x (original + ` +
            `${summary.globals} globals of ${globalSize} px + ${summary.locals} locals of ` +
            `${localSize} px), preset ${options.preset}`,
        );
      }
    });
}
