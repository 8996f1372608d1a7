/**
 * DINO's multi-crop augmentation on the GPU. A batch of uint8 RGB images (HWC) is uploaded once,
 * packed four bytes per u32 (`uploadImageBatch`); each view then runs the kernels of
 * kernels/data/augment.wgsl with per-image parameters drawn on the CPU (src/data/augment_params.ts):
 * crop + resize + flip + colour jitter + grayscale (+ solarise + normalise) fused in one pass, the
 * contrast mean in a reduction pass before it, and the Gaussian blur as two separable passes after
 * it. No gradients, no tape, no readback; parameter buffers and scratch are reused across calls.
 * @module
 */
import { IMAGENET_MEAN, IMAGENET_STD } from "./imagenet.ts";
import { gpu } from "../gpu/device.ts";
import { ShapeError } from "../gpu/errors.ts";
import { flatWorkgroups } from "../gpu/launch.ts";
import { Tensor } from "../tensor/tensor.ts";
import {
  IMAGE_PARAM_WORDS,
  type ImageAugmentation,
  type Interpolation,
  packImageAugmentations,
  sampleImageAugmentation,
  SeededRandom,
  validateViewConfig,
  type ViewConfig,
} from "./augment_params.ts";

export { IMAGENET_MEAN, IMAGENET_STD } from "./imagenet.ts";

/**
 * Uploads `batch` uint8 RGB images of `height` x `width` (HWC, row-major, the batch outermost) as a
 * u32 tensor of shape [ceil(batch * height * width * 3 / 4)]: four bytes per word, byte k of the
 * batch in bits 8 (k % 4) .. 8 (k % 4) + 7 of word floor(k / 4) (little-endian). `source`, when
 * given, returns the pixels at upload time (`pixels` at the first): a replayed step uploads what
 * it returns then.
 */
export function uploadImageBatch(
  pixels: Uint8Array,
  batch: number,
  height: number,
  width: number,
  source?: () => Uint8Array,
): Tensor {
  validateBatchSize("uploadImageBatch", batch, height, width);
  const bytes = batch * height * width * 3;
  if (pixels.length !== bytes) {
    throw new ShapeError(
      `uploadImageBatch: ${pixels.length} bytes for ${batch} images of ${height} x ${width} x 3 ` +
        `(want ${bytes})`,
    );
  }
  const words = Math.ceil(bytes / 4);
  const result = Tensor.empty([words], "u32", "image batch");
  if (bytes > 0) {
    // with `source`, a replayed step (Gpu.beginCapture) uploads the batch `source` gives then
    if (source) gpu().uploadStepInput(result.buffer, () => checkedPixels(source(), bytes));
    else gpu().upload(result.buffer, pixels);
  }
  return result;
}

function checkedPixels(pixels: Uint8Array, bytes: number): Uint8Array {
  if (pixels.length !== bytes) {
    throw new ShapeError(
      `uploadImageBatch: the source gave ${pixels.length} bytes, the batch holds ${bytes}`,
    );
  }
  return pixels;
}

function validateBatchSize(what: string, batch: number, height: number, width: number): void {
  for (const [name, value] of [["batch", batch], ["height", height], ["width", width]] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new ShapeError(`${what}: ${name} must be a whole number >= 1, got ${value}`);
    }
  }
}

/** How one view is rendered (what is not random). */
export interface ViewRenderOptions {
  /** Output side S. */
  size: number;
  /** Resampling; default bicubic. */
  interpolation?: Interpolation;
  /** Normalisation means (RGB); default ImageNet's. */
  mean?: readonly [number, number, number];
  /** Normalisation standard deviations (RGB); default ImageNet's. */
  std?: readonly [number, number, number];
  /**
   * Record the contrast-mean and blur kernels at every render, needed or not (the output is the
   * same: a blur of radius 0 copies), so that every step records the same commands; default
   * false (each render records only the kernels its draws need).
   */
  everyKernel?: { contrast: boolean; blur: boolean };
}

/** Two f32 scratch tensors per element count (the blur passes' ping-pong), shared by the views of an augmenter. */
export class ScratchPool {
  readonly #tensors = new Map<number, [Tensor, Tensor]>();

  /** The pair for `count` elements, allocated on first use. */
  get(count: number): [Tensor, Tensor] {
    let pair = this.#tensors.get(count);
    if (!pair) {
      pair = [
        Tensor.empty([count], "f32", "augment scratch"),
        Tensor.empty([count], "f32", "augment scratch"),
      ];
      this.#tensors.set(count, pair);
    }
    return pair;
  }

  /** Releases every scratch tensor. */
  dispose(): void {
    for (const pair of this.#tensors.values()) for (const scratch of pair) scratch.dispose();
    this.#tensors.clear();
  }
}

/**
 * Renders one view of a batch from given per-image parameters: `prepare` uploads them into this
 * renderer's parameter buffer (kept across calls), `render` records the kernels and returns the
 * normalised crops [batch, 3, S, S]. Call every `prepare` of a step before its `render`s, so the
 * uploads do not split the recorded work into several submits.
 */
export class ViewRenderer {
  readonly #options: Required<Omit<ViewRenderOptions, "everyKernel">>;
  readonly #everyKernel: { contrast: boolean; blur: boolean };
  readonly #scratch: ScratchPool;
  readonly #ownsScratch: boolean;
  #parameters: Tensor | undefined;
  #means: Tensor | undefined;
  #host = new Uint32Array(0);
  #batch = 0;
  #needsContrast = false;
  #needsBlur = false;

  /** Creates a renderer; views of one augmenter share `scratch`. */
  constructor(options: ViewRenderOptions, scratch?: ScratchPool) {
    if (!Number.isInteger(options.size) || options.size < 1) {
      throw new ShapeError(`ViewRenderer: size must be a whole number >= 1, got ${options.size}`);
    }
    this.#everyKernel = options.everyKernel ?? { contrast: false, blur: false };
    this.#options = {
      size: options.size,
      interpolation: options.interpolation ?? "bicubic",
      mean: options.mean ?? IMAGENET_MEAN,
      std: options.std ?? IMAGENET_STD,
    };
    this.#ownsScratch = scratch === undefined;
    this.#scratch = scratch ?? new ScratchPool();
  }

  /** Output side S. */
  get size(): number {
    return this.#options.size;
  }

  /** Uploads the parameters of every image of the next `render` (one per image). */
  prepare(images: readonly ImageAugmentation[], height: number, width: number): void {
    this.pack(images, height, width);
    this.upload();
  }

  /**
   * Which kernels the next `render` records (contrast means, blur), as a short key: renders
   * with the same key record the same commands.
   */
  get graphKey(): string {
    return `${this.#needsContrast ? "c" : ""}${this.#needsBlur ? "b" : ""}`;
  }

  /** Uploads the parameters packed by the latest `pack` (read again by a replayed step). */
  upload(): void {
    if (!this.#parameters) throw new ShapeError("ViewRenderer.upload: call pack() first");
    gpu().uploadStepInput(this.#parameters.buffer, () => this.#host);
  }

  /** Checks and packs the parameters of every image of the next `render` (CPU only). */
  pack(images: readonly ImageAugmentation[], height: number, width: number): void {
    const batch = images.length;
    validateBatchSize("ViewRenderer.prepare", batch, height, width);
    images.forEach((image, index) => {
      const { top, left, height: cropHeight, width: cropWidth } = image.crop;
      if (
        ![top, left, cropHeight, cropWidth].every(Number.isInteger) || top < 0 || left < 0 ||
        cropHeight < 1 || cropWidth < 1 || top + cropHeight > height || left + cropWidth > width
      ) {
        throw new ShapeError(
          `ViewRenderer.prepare: crop of image ${index} (top ${top}, left ${left}, height ` +
            `${cropHeight}, width ${cropWidth}) is not inside the ${height} x ${width} image`,
        );
      }
      if (!(image.blurSigma >= 0) || image.blurSigma > 64) {
        throw new ShapeError(
          `ViewRenderer.prepare: blur sigma of image ${index} must be in [0, 64], got ` +
            `${image.blurSigma}`,
        );
      }
    });
    if (batch !== this.#batch) {
      this.#parameters?.dispose();
      this.#means?.dispose();
      this.#parameters = Tensor.empty([batch * IMAGE_PARAM_WORDS], "u32", "augment parameters");
      this.#means = Tensor.empty([batch], "f32", "augment contrast means");
      this.#host = new Uint32Array(batch * IMAGE_PARAM_WORDS);
      this.#batch = batch;
    }
    packImageAugmentations(images, this.#host);
    this.#needsContrast = this.#everyKernel.contrast ||
      images.some((image) => image.jitter.order.includes("contrast"));
    this.#needsBlur = this.#everyKernel.blur || images.some((image) => image.blurSigma > 0);
  }

  /**
   * Records the kernels of this view over `source` (a batch from `uploadImageBatch` of the
   * shape given to `prepare`) and returns the crops [batch, 3, S, S].
   */
  render(source: Tensor, height: number, width: number): Tensor {
    const batch = this.#batch;
    if (!this.#parameters || !this.#means) {
      throw new ShapeError("ViewRenderer.render: call prepare() first");
    }
    const words = Math.ceil(batch * height * width * 3 / 4);
    if (source.dtype !== "u32" || source.size < words) {
      throw new ShapeError(
        `ViewRenderer.render: source ${source.describe()} is no packed uint8 batch of ${batch} ` +
          `images of ${height} x ${width} x 3 (want u32 with >= ${words} words)`,
      );
    }
    const { size, interpolation, mean, std } = this.#options;
    const count = batch * 3 * size * size;
    const output = Tensor.empty([batch, 3, size, size], "f32", "augmented view");
    const uniform = (finalize: boolean) => {
      const words = new Uint32Array(16);
      words.set([
        batch,
        height,
        width,
        size,
        interpolation === "bicubic" ? 1 : 0,
        finalize ? 1 : 0,
      ]);
      const floats = new Float32Array(words.buffer);
      floats.set([...mean, 0, ...std, 1], 8);
      return words;
    };
    const dispatcher = gpu();
    if (this.#needsContrast) {
      dispatcher.dispatch({
        kernel: "data/augment",
        entryPoint: "contrast_mean",
        buffers: [source.buffer, this.#parameters.buffer, this.#means.buffer],
        params: uniform(true),
        workgroups: [batch],
      });
    }
    const [first, second] = this.#needsBlur ? this.#scratch.get(count) : [output, output];
    dispatcher.dispatch({
      kernel: "data/augment",
      entryPoint: "color",
      buffers: [source.buffer, this.#parameters.buffer, this.#means.buffer, first.buffer],
      params: uniform(!this.#needsBlur),
      workgroups: flatWorkgroups(batch * size * size),
    });
    if (this.#needsBlur) {
      dispatcher.dispatch({
        kernel: "data/augment",
        entryPoint: "blur_rows",
        buffers: [first.buffer, this.#parameters.buffer, second.buffer],
        params: uniform(false),
        workgroups: flatWorkgroups(count),
      });
      dispatcher.dispatch({
        kernel: "data/augment",
        entryPoint: "blur_columns",
        buffers: [second.buffer, this.#parameters.buffer, output.buffer],
        params: uniform(true),
        workgroups: flatWorkgroups(count),
      });
    }
    return output;
  }

  /** Releases the parameter buffers (and the scratch, when this renderer owns it). */
  dispose(): void {
    this.#parameters?.dispose();
    this.#means?.dispose();
    this.#parameters = undefined;
    this.#means = undefined;
    this.#batch = 0;
    if (this.#ownsScratch) this.#scratch.dispose();
  }
}

/**
 * Augments one view of an uploaded batch with given per-image parameters (one per image) and
 * returns the crops [batch, 3, S, S]. For tests and tools; training uses `MultiCropAugmenter`.
 */
export function augmentView(
  source: Tensor,
  images: readonly ImageAugmentation[],
  height: number,
  width: number,
  options: ViewRenderOptions,
): Tensor {
  const renderer = new ViewRenderer(options);
  try {
    renderer.prepare(images, height, width);
    return renderer.render(source, height, width);
  } finally {
    // Released buffers are reused only by work recorded later, which the queue orders after this.
    renderer.dispose();
  }
}

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

  /**
   * Draws and packs the parameters of the next `augment` (CPU only) and returns the key of the
   * kernels it will record (see `ViewRenderer.graphKey`). `augment` draws by itself when this
   * was not called for its shape; a replayed step uploads what the latest `draw` packed.
   */
  draw(batchSize: number, height: number, width: number): string {
    validateBatchSize("MultiCropAugmenter.draw", batchSize, height, width);
    const drawn = this.sample(batchSize, height, width);
    this.#renderers.forEach((renderer, index) => renderer.pack(drawn[index], height, width));
    this.#drawnFor = `${batchSize}x${height}x${width}`;
    return this.#renderers.map((renderer) => renderer.graphKey).join(",");
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
   * Augments a batch uploaded by `uploadImageBatch`: returns the global and local crops as f32
   * [batchSize, 3, S, S] tensors, normalised. Records GPU work only (no readback).
   */
  augment(batch: Tensor, batchSize: number, height: number, width: number): MultiCropBatch {
    const drawnFor = `${batchSize}x${height}x${width}`;
    if (this.#drawnFor !== drawnFor) this.draw(batchSize, height, width);
    this.#drawnFor = undefined;
    // every upload first, so that the recorded kernels go out in one submit
    for (const renderer of this.#renderers) renderer.upload();
    const crops = this.#renderers.map((renderer) => renderer.render(batch, height, width));
    return { globals: crops.slice(0, 2), locals: crops.slice(2) };
  }

  /** Releases the parameter and scratch buffers. */
  dispose(): void {
    for (const renderer of this.#renderers) renderer.dispose();
    this.#scratch.dispose();
  }
}
