/**
 * Feature extraction for evaluation: datasets of uint8 HWC images become normalised float NCHW
 * batches (`datasetToTensorBatches`), and a frozen backbone turns batches into host features
 * (`extractFeatures`: a ViT's final-norm CLS token, a Mixer's mean final-norm token;
 * `probeFeatures`: DINO's linear-probe input, the CLS tokens of the last n blocks, optionally with
 * the average-pooled patch tokens of the last block); `pixelFeatures` is the raw-pixel baseline.
 * @module
 */
import type { Dataset } from "../data/dataset.ts";
import { ShapeError } from "../gpu/errors.ts";
import { MlpMixer } from "../nn/mixer.ts";
import type { VisionTransformer } from "../nn/vit.ts";
import { l2Normalize, mean } from "../ops/reduction/forward.ts";
import { concat, reshape, slice } from "../ops/shape/forward.ts";
import { noGrad } from "../tensor/tape.ts";
import { readAll, Tensor, tensor } from "../tensor/tensor.ts";

/** A backbone features can be extracted from. */
export type FeatureModel = VisionTransformer | MlpMixer;

/** Options of `datasetToTensorBatches`. */
export interface TensorBatchOptions {
  /** Side of the square model input; images of another size are resized (default: keep). */
  size?: number;
  /** Channel means subtracted after scaling to [0, 1] (default ImageNet's). */
  mean?: readonly number[];
  /** Channel standard deviations (default ImageNet's). */
  std?: readonly number[];
  /** Images per batch (default 64). */
  batchSize?: number;
  /** Channels of the output: gray images are repeated to 3 (default 3). */
  channels?: 1 | 3;
  /** Resampling when the size differs (default bilinear). */
  resize?: "nearest" | "bilinear";
  /** Only the first `limit` samples (default all). */
  limit?: number;
}

/** One batch of model input with its labels. */
export interface TensorBatch {
  /** Normalised images [B, C, H, W] (the caller disposes it). */
  images: Tensor;
  /** Labels of the batch. */
  labels: Int32Array;
  /** Index of the first sample. */
  start: number;
}

const DEFAULT_MEAN = [0.485, 0.456, 0.406];
const DEFAULT_STD = [0.229, 0.224, 0.225];

/** Samples pixel (x, y) of channel c of an HWC image (clamped to the border). */
function pixel(
  image: Uint8Array,
  height: number,
  width: number,
  channels: number,
  x: number,
  y: number,
  c: number,
) {
  const cx = Math.min(width - 1, Math.max(0, x));
  const cy = Math.min(height - 1, Math.max(0, y));
  return image[(cy * width + cx) * channels + Math.min(c, channels - 1)];
}

/**
 * Converts one uint8 HWC image to normalised float CHW at `outH` x `outW` (nearest or bilinear
 * with half-pixel centres, as `align_corners=False`), writing into `target` at `offset`.
 */
export function imageToChw(
  image: Uint8Array,
  height: number,
  width: number,
  channels: number,
  target: Float32Array,
  offset: number,
  options: {
    outH: number;
    outW: number;
    outChannels: number;
    mean: readonly number[];
    std: readonly number[];
    resize: "nearest" | "bilinear";
  },
): void {
  const { outH, outW, outChannels, resize } = options;
  const scaleY = height / outH;
  const scaleX = width / outW;
  for (let c = 0; c < outChannels; c++) {
    const m = options.mean[c % options.mean.length];
    const s = options.std[c % options.std.length];
    const plane = offset + c * outH * outW;
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        let value: number;
        if (outH === height && outW === width) {
          value = image[(y * width + x) * channels + Math.min(c, channels - 1)];
        } else if (resize === "nearest") {
          value = pixel(
            image,
            height,
            width,
            channels,
            Math.floor(x * scaleX),
            Math.floor(y * scaleY),
            c,
          );
        } else {
          const sy = Math.max(0, (y + 0.5) * scaleY - 0.5);
          const sx = Math.max(0, (x + 0.5) * scaleX - 0.5);
          const y0 = Math.floor(sy);
          const x0 = Math.floor(sx);
          const fy = sy - y0;
          const fx = sx - x0;
          const p = (xx: number, yy: number) => pixel(image, height, width, channels, xx, yy, c);
          value = (1 - fy) * ((1 - fx) * p(x0, y0) + fx * p(x0 + 1, y0)) +
            fy * ((1 - fx) * p(x0, y0 + 1) + fx * p(x0 + 1, y0 + 1));
        }
        target[plane + y * outW + x] = (value / 255 - m) / s;
      }
    }
  }
}

/** Yields normalised float NCHW batches of a dataset (converted on the CPU, one upload each). */
export async function* datasetToTensorBatches(
  dataset: Dataset,
  options: TensorBatchOptions = {},
): AsyncGenerator<TensorBatch> {
  const { batchSize = 64, channels = 3, resize = "bilinear" } = options;
  const meanValues = options.mean ?? DEFAULT_MEAN;
  const stdValues = options.std ?? DEFAULT_STD;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new ShapeError(
      `datasetToTensorBatches: batchSize must be a whole number >= 1, got ${batchSize}`,
    );
  }
  const count = Math.min(dataset.length, options.limit ?? dataset.length);
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(count, start + batchSize);
    const samples = await Promise.all(
      Array.from({ length: end - start }, (_, i) => dataset.get(start + i)),
    );
    const outH = options.size ?? samples[0].height;
    const outW = options.size ?? samples[0].width;
    const plane = outH * outW * channels;
    const host = new Float32Array(samples.length * plane);
    const labels = new Int32Array(samples.length);
    samples.forEach((sample, i) => {
      if (options.size === undefined && (sample.height !== outH || sample.width !== outW)) {
        throw new ShapeError(
          `datasetToTensorBatches: sample ${start + i} is ${sample.height}x${sample.width}, the ` +
            `batch is ${outH}x${outW}; pass \`size\` to resize`,
        );
      }
      imageToChw(sample.image, sample.height, sample.width, sample.channels, host, i * plane, {
        outH,
        outW,
        outChannels: channels,
        mean: meanValues,
        std: stdValues,
        resize,
      });
      labels[i] = sample.label;
    });
    yield { images: tensor(host, [samples.length, channels, outH, outW]), labels, start };
  }
}

/** Options of `extractFeatures`. */
export interface ExtractOptions {
  /** Called after each batch with the rows done so far. */
  onProgress?: (done: number) => void;
}

/** Host features [rows, dim] and the labels seen along. */
export interface ExtractedFeatures {
  /** Row-major features. */
  features: Float32Array;
  /** Feature dimension. */
  dim: number;
  /** Rows. */
  rows: number;
  /** Labels when the source had them. */
  labels: Int32Array;
}

/**
 * Which feature of a ViT evaluation uses: its final-norm CLS token (DINO's k-NN), the mean of its
 * final-norm patch tokens, or both, each L2-normalised, side by side (so a cosine similarity is
 * the mean of the two cosines). A Mixer has no CLS token: every kind is its mean token.
 */
export type FeatureKind = "cls" | "mean" | "cls+mean";

/** The feature kinds, for flags and messages. */
export const FEATURE_KINDS: readonly FeatureKind[] = ["cls", "mean", "cls+mean"];

/** The evaluation feature of a batch [B, dim] on the GPU (see `FeatureKind`; default CLS). */
export function batchFeatures(
  model: FeatureModel,
  images: Tensor,
  kind: FeatureKind = "cls",
): Tensor {
  return noGrad(() => {
    if (model instanceof MlpMixer) {
      const output = model.forward(images);
      output.tokens.dispose();
      return output.pooled;
    }
    const output = model.forward(images);
    if (kind === "cls") {
      output.patches.dispose();
      return output.cls;
    }
    const pooled = mean(output.patches, 1);
    output.patches.dispose();
    if (kind === "mean") {
      output.cls.dispose();
      return pooled;
    }
    const parts = [l2Normalize(output.cls), l2Normalize(pooled)];
    output.cls.dispose();
    pooled.dispose();
    const joined = concat(parts, 1);
    for (const part of parts) part.dispose();
    return joined;
  });
}

/**
 * The `kind` part of features extracted as "cls+mean" ([rows, 2 D]: the L2-normalised CLS, then
 * the L2-normalised patch mean), so one extraction serves every kind: "cls" is the first D
 * columns, "mean" the last D (their cosines equal those of the raw tokens), "cls+mean" all. A
 * Mixer's features are its mean token for every kind and come back whole.
 */
export function featuresOfKind(
  extracted: ExtractedFeatures,
  kind: FeatureKind,
  model: FeatureModel,
): ExtractedFeatures {
  if (model instanceof MlpMixer || kind === "cls+mean") return extracted;
  const dim = extracted.dim / 2;
  const start = kind === "cls" ? 0 : dim;
  const features = new Float32Array(extracted.rows * dim);
  for (let row = 0; row < extracted.rows; row++) {
    const from = row * extracted.dim + start;
    features.set(extracted.features.subarray(from, from + dim), row * dim);
  }
  return { ...extracted, features, dim };
}

/**
 * Features of every batch (host arrays), under `noGrad`. `source` yields normalised NCHW images,
 * either as tensors (the caller keeps them) or as `TensorBatch`es (disposed here); `compute`
 * defaults to `batchFeatures`. One readback per batch.
 */
export async function extractFeatures(
  model: FeatureModel,
  source: Iterable<Tensor> | AsyncIterable<TensorBatch | Tensor>,
  options: ExtractOptions & { compute?: (model: FeatureModel, images: Tensor) => Tensor } = {},
): Promise<ExtractedFeatures> {
  const compute = options.compute ?? batchFeatures;
  const parts: Float32Array[] = [];
  const labelParts: Int32Array[] = [];
  let dim = 0;
  let rows = 0;
  for await (const item of source as AsyncIterable<TensorBatch | Tensor>) {
    const images = item instanceof Tensor ? item : item.images;
    if (images.rank !== 4) {
      throw new ShapeError(
        `extractFeatures: images must be [B, C, H, W], got ${images.describe()}`,
      );
    }
    const features = compute(model, images);
    if (!(item instanceof Tensor)) {
      images.dispose();
      labelParts.push(item.labels);
    }
    dim = features.shape[1];
    const [host] = await readAll([features]);
    features.dispose();
    parts.push(host as Float32Array);
    rows += features.shape[0];
    options.onProgress?.(rows);
  }
  const features = new Float32Array(rows * dim);
  let at = 0;
  for (const part of parts) {
    features.set(part, at);
    at += part.length;
  }
  const labels = new Int32Array(labelParts.reduce((sum, part) => sum + part.length, 0));
  at = 0;
  for (const part of labelParts) {
    labels.set(part, at);
    at += part.length;
  }
  return { features, dim, rows, labels };
}

/** Options of `pixelFeatures`. */
export interface PixelFeatureOptions {
  /** Side the images are resized to (bilinear; default: their own size, which must be shared). */
  size?: number;
  /** Called after each image with the rows done so far. */
  onProgress?: (done: number) => void;
}

/**
 * The raw-pixel baseline of k-NN and probes: each image's pixels scaled to [0, 1] in CHW order
 * with its own channels (a gray image gives one value per pixel), computed on the host.
 */
export async function pixelFeatures(
  dataset: Dataset,
  options: PixelFeatureOptions = {},
): Promise<ExtractedFeatures> {
  const channels = dataset.channels;
  let side: [number, number] | undefined = options.size === undefined
    ? undefined
    : [options.size, options.size];
  const labels = new Int32Array(dataset.length);
  let features = new Float32Array(0);
  let dim = 0;
  for (let index = 0; index < dataset.length; index++) {
    const sample = await dataset.get(index);
    if (!side) side = [sample.height, sample.width];
    if (options.size === undefined && (sample.height !== side[0] || sample.width !== side[1])) {
      throw new ShapeError(
        `pixelFeatures: sample ${index} is ${sample.height}x${sample.width}, the first was ` +
          `${side[0]}x${side[1]}; pass a size to resize them (--size on the command line)`,
      );
    }
    if (index === 0) {
      dim = channels * side[0] * side[1];
      features = new Float32Array(dataset.length * dim);
    }
    imageToChw(sample.image, sample.height, sample.width, sample.channels, features, index * dim, {
      outH: side[0],
      outW: side[1],
      outChannels: channels,
      mean: [0],
      std: [1],
      resize: "bilinear",
    });
    labels[index] = sample.label;
    options.onProgress?.(index + 1);
  }
  return { features, dim, rows: dataset.length, labels };
}

/** Options of `probeFeatures`. */
export interface ProbeFeatureOptions {
  /** CLS tokens of this many last blocks are concatenated (DINO: 4 for ViT-S, 1 for ViT-B). */
  lastBlocks: number;
  /** Also append the mean of the last block's patch tokens (registers skipped). */
  avgPool: boolean;
}

/**
 * DINO's linear-probe features [B, lastBlocks * dim (+ dim)] on the GPU: the final-norm CLS token
 * of each of the last `lastBlocks` blocks, concatenated, then (with `avgPool`) the average of the
 * last block's final-norm patch tokens. (DINO interleaves CLS and average for n = 1; for a linear
 * classifier the order of features does not matter.)
 */
export function probeFeatures(
  vit: VisionTransformer,
  images: Tensor,
  options: ProbeFeatureOptions,
): Tensor {
  const { lastBlocks, avgPool } = options;
  if (!Number.isInteger(lastBlocks) || lastBlocks < 1 || lastBlocks > vit.blocks.length) {
    throw new ShapeError(
      `probeFeatures: lastBlocks must be in 1..${vit.blocks.length}, got ${lastBlocks}`,
    );
  }
  return noGrad(() => {
    const outputs = vit.intermediateLayers(images, lastBlocks);
    const [batch, tokens, dim] = outputs[0].shape;
    const parts = outputs.map((output) => {
      const cls = slice(output, 1, 0, 1);
      const flat = reshape(cls, [batch, dim]);
      cls.dispose();
      return flat;
    });
    if (avgPool) {
      const patches = slice(outputs[outputs.length - 1], 1, 1 + vit.config.registers, tokens);
      parts.push(mean(patches, 1));
      patches.dispose();
    }
    const result = parts.length === 1 ? parts[0] : concat(parts, 1);
    if (parts.length > 1) { for (const t of parts) t.dispose(); }
    for (const t of outputs) t.dispose();
    return result;
  });
}
