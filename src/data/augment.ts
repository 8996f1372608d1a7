/**
 * The view kernels of DINO's multi-crop augmentation on the GPU (./multi_crop.ts runs them for
 * every view). A batch of uint8 RGB images (HWC) is uploaded once, packed four bytes per u32
 * (`uploadImageBatch`); each view then runs the kernels of
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

/** Refuses a batch size, height or width that is not a whole number >= 1, naming `what`. */
export function validateBatchSize(
  what: string,
  batch: number,
  height: number,
  width: number,
): void {
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
   * shape given to `prepare`, starting `offset` bytes in) and returns the crops [batch, 3, S, S].
   */
  render(source: Tensor, height: number, width: number, offset = 0): Tensor {
    const batch = this.#batch;
    if (!this.#parameters || !this.#means) {
      throw new ShapeError("ViewRenderer.render: call prepare() first");
    }
    const words = Math.ceil((offset + batch * height * width * 3) / 4);
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
        offset,
        this.#needsContrast ? 1 : 0, // contrast_mean samples the crop, color reads it
      ]);
      const floats = new Float32Array(words.buffer);
      floats.set([...mean, 0, ...std, 1], 8);
      return words;
    };
    const dispatcher = gpu();
    const [first, second] = this.#needsBlur ? this.#scratch.get(count) : [output, output];
    if (this.#needsContrast) {
      dispatcher.dispatch({
        kernel: "data/augment",
        entryPoint: "contrast_mean",
        buffers: [source.buffer, this.#parameters.buffer, this.#means.buffer, first.buffer],
        params: uniform(true),
        workgroups: [batch],
      });
    }
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
