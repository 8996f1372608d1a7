/**
 * DINO multi-crop: the views of each image (two global crops, N local ones) with their
 * augmentations, as DINO and the small-data recipes configure them, and `MultiCropAugmenter`, which
 * renders every view of a batch on the GPU with the view kernels of ./augment.ts.
 * @module
 */
import { ShapeError } from "../gpu/errors.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { ScratchPool, validateBatchSize, ViewRenderer } from "./augment.ts";
import {
  type ImageAugmentation,
  type Interpolation,
  sampleImageAugmentation,
  sampleViewEffects,
  SeededRandom,
  validateViewConfig,
  type ViewConfig,
} from "./augment_params.ts";
import { IMAGENET_MEAN, IMAGENET_STD } from "./imagenet.ts";

/** Configuration of DINO's multi-crop (2 global + N local crops). */
export interface MultiCropConfig {
  /** Side of the global crops; DINO: 224. */
  globalSize: number;
  /** Area range of the global crops; DINO: (0.4, 1). */
  globalScale: readonly [number, number];
  /** Side of the local crops; DINO: 96. */
  localSize: number;
  /** Area range of the local crops; DINO: (0.05, 0.4). */
  localScale: readonly [number, number];
  /** Number of local crops; DINO: 8 (0 turns multi-crop off). */
  localCrops: number;
  /** Resampling of every crop; DINO: bicubic. */
  interpolation: Interpolation;
  /** Blur probability of global 1, global 2 and the locals; DINO: (1.0, 0.1, 0.5). */
  blurProbabilities: readonly [number, number, number];
  /** Solarisation probability of global 2; DINO: 0.2. */
  solarizeProbability: number;
  /** ColorJitter strengths [brightness, contrast, saturation, hue]; DINO: (0.4, 0.4, 0.2, 0.1). */
  colorJitter: readonly [number, number, number, number];
  /** Probability of ColorJitter per view; DINO: 0.8. */
  colorJitterProbability: number;
  /** Probability of grayscale per view; DINO: 0.2. */
  grayscaleProbability: number;
  /** Normalisation means; default ImageNet's. */
  mean: readonly [number, number, number];
  /** Normalisation standard deviations; default ImageNet's. */
  std: readonly [number, number, number];
}

/** DINO's defaults (ViT-S/16 on ImageNet). */
export const DINO_MULTI_CROP: Readonly<MultiCropConfig> = {
  globalSize: 224,
  globalScale: [0.4, 1],
  localSize: 96,
  localScale: [0.05, 0.4],
  localCrops: 8,
  interpolation: "bicubic",
  blurProbabilities: [1.0, 0.1, 0.5],
  solarizeProbability: 0.2,
  colorJitter: [0.4, 0.4, 0.2, 0.1],
  colorJitterProbability: 0.8,
  grayscaleProbability: 0.2,
  mean: IMAGENET_MEAN,
  std: IMAGENET_STD,
};

/**
 * The small-data preset (28-96 px images, after Gani et al.): globals at the full `imageSize`
 * with scale (0.7, 1), `localCrops` locals at half size with scale (0.2, 0.5).
 */
export function smallDataMultiCrop(imageSize: number, localCrops = 8): MultiCropConfig {
  return {
    ...DINO_MULTI_CROP,
    globalSize: imageSize,
    globalScale: [0.7, 1],
    localSize: Math.max(1, Math.round(imageSize / 2)),
    localScale: [0.2, 0.5],
    localCrops,
  };
}

/**
 * The views of DINO's DataAugmentationDINO for a configuration: global 1 (blur p 1.0), global 2
 * (blur p 0.1, solarise p 0.2), then the locals (blur p 0.5); all with flip 0.5, colour jitter
 * and grayscale as the configuration says (DINO: (0.4, 0.4, 0.2, 0.1) with p 0.8, grayscale 0.2).
 */
export function dinoViews(config: MultiCropConfig): ViewConfig[] {
  const [brightness, contrast, saturation, hue] = config.colorJitter;
  const common = {
    interpolation: config.interpolation,
    brightness,
    contrast,
    saturation,
    hue,
    jitterProbability: config.colorJitterProbability,
    grayscaleProbability: config.grayscaleProbability,
  };
  const global = { ...common, size: config.globalSize, scale: config.globalScale };
  const local = { ...common, size: config.localSize, scale: config.localScale };
  const [blurFirst, blurSecond, blurLocal] = config.blurProbabilities;
  return [
    { ...global, blurProbability: blurFirst, solarizeProbability: 0 },
    { ...global, blurProbability: blurSecond, solarizeProbability: config.solarizeProbability },
    ...Array.from({ length: config.localCrops }, () => ({ ...local, blurProbability: blurLocal })),
  ];
}

/** The crops of one batch: the global views first, then the local ones, each [batch, 3, S, S]. */
export interface MultiCropBatch {
  /** The two global views. */
  globals: Tensor[];
  /** The local views. */
  locals: Tensor[];
}

/**
 * DINO's multi-crop augmentation of uploaded uint8 batches, seeded. Parameters are drawn per image
 * and view on the CPU, uploaded into buffers reused across calls, and rendered by the kernels of
 * kernels/data/augment.wgsl; the only allocations in steady state are the returned crops (from the pool;
 * the caller disposes them).
 */
export class MultiCropAugmenter {
  /** The configuration. */
  readonly config: MultiCropConfig;
  /** The views, globals first. */
  readonly views: readonly ViewConfig[];
  /** The generator of every random draw (its `state` goes into checkpoints). */
  readonly random: SeededRandom;
  readonly #renderers: ViewRenderer[];
  readonly #scratch = new ScratchPool();

  /** Creates an augmenter; missing configuration fields take DINO's defaults. */
  constructor(config: Partial<MultiCropConfig> = {}, seed = 0) {
    this.config = { ...DINO_MULTI_CROP, ...config };
    if (!Number.isInteger(this.config.localCrops) || this.config.localCrops < 0) {
      throw new ShapeError(
        `MultiCropAugmenter: localCrops must be a whole number >= 0, got ${this.config.localCrops}`,
      );
    }
    this.views = dinoViews(this.config);
    this.views.forEach((view, index) =>
      validateViewConfig(view, `MultiCropAugmenter view ${index}`)
    );
    this.random = new SeededRandom(seed);
    this.#renderers = this.views.map((view) =>
      new ViewRenderer({
        size: view.size,
        interpolation: view.interpolation,
        mean: this.config.mean,
        std: this.config.std,
        // the same kernels at every step, so that training steps replay one capture
        everyKernel: {
          contrast: (view.jitterProbability ?? 0.8) > 0 && (view.contrast ?? 0.4) > 0,
          blur: (view.blurProbability ?? 0.5) > 0,
        },
      }, this.#scratch)
    );
  }

  /** The small-data preset for square images of side `imageSize` (see `smallDataMultiCrop`). */
  static smallData(imageSize: number, localCrops = 8, seed = 0): MultiCropAugmenter {
    return new MultiCropAugmenter(smallDataMultiCrop(imageSize, localCrops), seed);
  }

  #drawnFor: string | undefined;
  /** Byte offset of each view in a batch of CPU-cut crops (undefined: whole images). */
  #offsets: number[] | undefined;

  /**
   * Draws and packs the parameters of the next `augment` (CPU only) and returns the key of the
   * kernels it will record (see `ViewRenderer.graphKey`). `augment` draws by itself when this
   * was not called for its shape; a replayed step uploads what the latest `draw` packed.
   * With `cut` (the side of each view, as in `Batch.views`), the batch holds crops already cut
   * and resized on the CPU, view after view: the crop step is skipped, the rest drawn as usual.
   */
  draw(batchSize: number, height: number, width: number, cut?: readonly number[]): string {
    validateBatchSize("MultiCropAugmenter.draw", batchSize, height, width);
    if (cut) {
      this.#checkCut(cut);
      let offset = 0;
      this.#offsets = cut.map((side) =>
        (offset += batchSize * side * side * 3) - batchSize * side * side * 3
      );
      const drawn = this.sampleCut(batchSize);
      this.#renderers.forEach((renderer, index) =>
        renderer.pack(drawn[index], cut[index], cut[index])
      );
    } else {
      this.#offsets = undefined;
      const drawn = this.sample(batchSize, height, width);
      this.#renderers.forEach((renderer, index) => renderer.pack(drawn[index], height, width));
    }
    this.#drawnFor = `${batchSize}x${height}x${width}${cut ? "c" : ""}`;
    return (cut ? "cut:" : "") + this.#renderers.map((renderer) => renderer.graphKey).join(",");
  }

  #checkCut(cut: readonly number[]): void {
    const sizes = this.views.map((view) => view.size);
    if (cut.length !== sizes.length || cut.some((side, i) => side !== sizes[i])) {
      throw new ShapeError(
        `MultiCropAugmenter: the batch's crops are ${cut.join(", ")} px, the views want ` +
          `${sizes.join(", ")} px`,
      );
    }
  }

  /** Draws every view's parameters for crops cut on the CPU: all but the crop (a full box). */
  sampleCut(batchSize: number): ImageAugmentation[][] {
    return this.views.map((view) =>
      Array.from({ length: batchSize }, () => ({
        crop: { top: 0, left: 0, height: view.size, width: view.size },
        ...sampleViewEffects(this.random, view),
      }))
    );
  }

  /** Draws every view's parameters for `batchSize` images of `height` x `width` (CPU only). */
  sample(batchSize: number, height: number, width: number): ImageAugmentation[][] {
    return this.views.map((view) =>
      Array.from(
        { length: batchSize },
        () => sampleImageAugmentation(this.random, view, height, width),
      )
    );
  }

  /**
   * Augments a batch uploaded by `uploadImageBatch` (whole images, or the crops of a `draw` with
   * `cut`): returns the global and local crops as f32
   * [batchSize, 3, S, S] tensors, normalised. Records GPU work only (no readback).
   */
  augment(batch: Tensor, batchSize: number, height: number, width: number): MultiCropBatch {
    const drawnFor = `${batchSize}x${height}x${width}`;
    if (this.#drawnFor !== drawnFor && this.#drawnFor !== `${drawnFor}c`) {
      this.draw(batchSize, height, width);
    }
    this.#drawnFor = undefined;
    // every upload first, so that the recorded kernels go out in one submit
    for (const renderer of this.#renderers) renderer.upload();
    const offsets = this.#offsets;
    const crops = this.#renderers.map((renderer, index) =>
      offsets
        ? renderer.render(batch, renderer.size, renderer.size, offsets[index])
        : renderer.render(batch, height, width)
    );
    return { globals: crops.slice(0, 2), locals: crops.slice(2) };
  }

  /** Releases the parameter and scratch buffers. */
  dispose(): void {
    for (const renderer of this.#renderers) renderer.dispose();
    this.#scratch.dispose();
  }
}
