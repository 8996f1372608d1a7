/**
 * Batches of uint8 images [B, H, W, C] for upload, with seeded per-epoch shuffling and the next
 * batch prepared while the caller works on the current one.
 * @module
 */
import { resizeBilinear } from "../io/image.ts";
import type { Dataset } from "./dataset.ts";
import { mixSeed, permutation } from "./dataset.ts";

/** One batch: `images` holds `shape` = [B, H, W, C] bytes. */
export interface Batch {
  /** Pixels, row-major [B, H, W, C]. */
  images: Uint8Array;
  /** One label per image. */
  labels: Int32Array;
  /** Dataset indices of the images. */
  indices: Int32Array;
  /** [B, H, W, C]. */
  shape: [number, number, number, number];
  /** Epoch the batch belongs to. */
  epoch: number;
  /** Position of the batch in its epoch. */
  step: number;
  /**
   * Set for batches of crops cut on the CPU (streamed sources): the side S of each view, in
   * order; `images` then holds every view back to back, each [B, S, S, 3], and `shape` is
   * [B, first side, first side, 3]. Undefined: `images` are whole images to crop on the GPU.
   */
  views?: number[];
}

/** Options of `DataLoader`. */
export interface LoaderOptions {
  /** Images per batch. */
  batchSize: number;
  /** Shuffle each epoch (seeded by `seed` and the epoch); default true. */
  shuffle?: boolean;
  /** Seed of the shuffling; default 0. */
  seed?: number;
  /** Drop the last, smaller batch; default true (steady shapes let a step be replayed). */
  dropLast?: boolean;
  /**
   * Output [height, width]. Default: the dataset's own size; samples of another size are resized
   * bilinearly on the CPU.
   */
  size?: [number, number];
}

/** Yields the batches of a dataset, epoch after epoch. */
export class DataLoader {
  /** The dataset read. */
  readonly dataset: Dataset;
  /** Images per batch. */
  readonly batchSize: number;
  /** Whether epochs are shuffled. */
  readonly shuffle: boolean;
  /** Shuffling seed. */
  readonly seed: number;
  /** Whether a last, smaller batch is dropped. */
  readonly dropLast: boolean;
  /** Output height. */
  readonly height: number;
  /** Output width. */
  readonly width: number;
  /** Channels per pixel. */
  readonly channels: number;

  /** Checks the options against the dataset. */
  constructor(dataset: Dataset, options: LoaderOptions) {
    const { batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    }
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? true;
    this.seed = options.seed ?? 0;
    this.dropLast = options.dropLast ?? true;
    const height = options.size?.[0] ?? dataset.height;
    const width = options.size?.[1] ?? dataset.width;
    if (height === undefined || width === undefined) {
      throw new RangeError("DataLoader: the dataset has no common size: pass options.size");
    }
    this.height = height;
    this.width = width;
    this.channels = dataset.channels;
    if (this.batchesPerEpoch === 0) {
      throw new RangeError(
        `DataLoader: ${dataset.length} samples make no full batch of ${batchSize} (dropLast)`,
      );
    }
  }

  /** Number of images drawn from. */
  get images(): number {
    return this.dataset.length;
  }

  /** Number of batches one epoch yields. */
  get batchesPerEpoch(): number {
    const n = this.dataset.length / this.batchSize;
    return this.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** The sample order of `epoch` (a seeded permutation, or 0..n-1 without shuffling). */
  order(epoch: number): Int32Array {
    const n = this.dataset.length;
    if (!this.shuffle) return Int32Array.from({ length: n }, (_, i) => i);
    return permutation(n, mixSeed(this.seed, epoch, 0x10ad));
  }

  /** Assembles the batch of `indices`. */
  async batch(indices: Int32Array, epoch = 0, step = 0): Promise<Batch> {
    const { height, width, channels } = this;
    const imageBytes = height * width * channels;
    const images = new Uint8Array(indices.length * imageBytes);
    const labels = new Int32Array(indices.length);
    const samples = await Promise.all(Array.from(indices, (i) => this.dataset.get(i)));
    samples.forEach((sample, b) => {
      if (sample.channels !== channels) {
        throw new RangeError(
          `DataLoader: sample ${indices[b]} has ${sample.channels} channels, expected ${channels}`,
        );
      }
      const image = sample.height === height && sample.width === width
        ? sample.image
        : resizeBilinear(
          { width: sample.width, height: sample.height, data: sample.image },
          width,
          height,
          channels,
        ).data;
      images.set(image, b * imageBytes);
      labels[b] = sample.label;
    });
    return {
      images,
      labels,
      indices,
      shape: [indices.length, height, width, channels],
      epoch,
      step,
    };
  }

  /** The batches of `epoch` from batch `first` on, each prepared while the previous one is used. */
  async *batches(epoch: number, first = 0): AsyncGenerator<Batch> {
    const order = this.order(epoch);
    const load = (step: number) =>
      this.batch(order.subarray(step * this.batchSize, (step + 1) * this.batchSize), epoch, step);
    let next = first < this.batchesPerEpoch ? load(first) : undefined;
    for (let step = first; step < this.batchesPerEpoch; step++) {
      const batch = await next!;
      next = step + 1 < this.batchesPerEpoch ? load(step + 1) : undefined;
      next?.catch(() => {});
      yield batch;
    }
  }

  /** The batches of `epoch`, each prepared while the previous one is being used. */
  async *epoch(epoch: number): AsyncGenerator<Batch> {
    const order = this.order(epoch);
    const count = this.batchesPerEpoch;
    const slice = (step: number) =>
      order.subarray(step * this.batchSize, Math.min((step + 1) * this.batchSize, order.length));
    let next: Promise<Batch> | undefined = this.batch(slice(0), epoch, 0);
    for (let step = 0; step < count; step++) {
      const current: Promise<Batch> = next!;
      next = step + 1 < count ? this.batch(slice(step + 1), epoch, step + 1) : undefined;
      // Keep an early failure of the prefetched batch from being reported as unhandled.
      next?.catch(() => {});
      yield await current;
    }
  }
}
