/**
 * Per-image random parameters of DINO's multi-crop augmentation, drawn on the CPU with a seeded
 * generator and packed into one small buffer per view for the GPU kernels (kernels/data/augment.wgsl).
 * The draws follow torchvision's semantics (RandomResizedCrop's 10 attempts with the centre-crop
 * fallback, ColorJitter's random order of its four operations) and DINO's per-view probabilities;
 * the generator itself is not PyTorch's, so the numbers drawn differ from a PyTorch run.
 * @module
 */
import { ShapeError } from "../gpu/errors.ts";

/** Resampling of RandomResizedCrop: PyTorch tensor semantics (no antialias, cubic a = -0.75). */
export type Interpolation = "bilinear" | "bicubic";

/** The four ColorJitter operations. */
export type JitterOperation = "brightness" | "contrast" | "saturation" | "hue";

/** Code of each jitter operation in the packed parameters (0 ends the list). */
export const JITTER_OPERATION_CODES: Readonly<Record<JitterOperation, number>> = {
  brightness: 1,
  contrast: 2,
  saturation: 3,
  hue: 4,
};

/** A crop box in source pixels: rows `top .. top + height - 1`, columns `left .. left + width - 1`. */
export interface CropBox {
  /** First row. */
  top: number;
  /** First column. */
  left: number;
  /** Number of rows. */
  height: number;
  /** Number of columns. */
  width: number;
}

/** ColorJitter factors and the order the operations run in (empty order: jitter not applied). */
export interface ColorJitterParams {
  /** Operations in the order they are applied. */
  order: JitterOperation[];
  /** Brightness factor (multiplies the image). */
  brightness: number;
  /** Contrast factor (blends with the mean of the grayscale image). */
  contrast: number;
  /** Saturation factor (blends with the per-pixel grayscale). */
  saturation: number;
  /** Hue shift in turns, in [-0.5, 0.5]. */
  hue: number;
}

/** Everything that is random about one augmented view of one image. */
export interface ImageAugmentation {
  /** Crop box in the source image. */
  crop: CropBox;
  /** Horizontal flip of the crop. */
  flip: boolean;
  /** Colour jitter. */
  jitter: ColorJitterParams;
  /** Grayscale conversion (luma replicated to the three channels). */
  grayscale: boolean;
  /** Gaussian blur standard deviation in output pixels; 0 means no blur. */
  blurSigma: number;
  /** Solarisation (x >= 128/255 becomes 1 - x). */
  solarize: boolean;
}

/** One view of DINO's multi-crop: output size, crop ranges and the probabilities of each step. */
export interface ViewConfig {
  /** Output side S (crops are S x S). */
  size: number;
  /** Range of the crop area as a fraction of the image area. */
  scale: readonly [number, number];
  /** Range of the crop aspect ratio (width / height); default (3/4, 4/3). */
  ratio?: readonly [number, number];
  /** Resampling; default bicubic (DINO's). */
  interpolation?: Interpolation;
  /** Probability of a horizontal flip; default 0.5. */
  flipProbability?: number;
  /** Probability of applying ColorJitter; default 0.8. */
  jitterProbability?: number;
  /** ColorJitter brightness strength; default 0.4. */
  brightness?: number;
  /** ColorJitter contrast strength; default 0.4. */
  contrast?: number;
  /** ColorJitter saturation strength; default 0.2. */
  saturation?: number;
  /** ColorJitter hue strength (at most 0.5); default 0.1. */
  hue?: number;
  /** Probability of grayscale; default 0.2. */
  grayscaleProbability?: number;
  /** Probability of Gaussian blur; default 0.5 (DINO's local crops). */
  blurProbability?: number;
  /** Range of the blur sigma; default (0.1, 2). */
  blurSigma?: readonly [number, number];
  /** Probability of solarisation; default 0. */
  solarizeProbability?: number;
}

/** torchvision's default aspect-ratio range of RandomResizedCrop. */
export const DEFAULT_RATIO: readonly [number, number] = [3 / 4, 4 / 3];

/** 32-bit words per image in the packed parameter buffer. */
export const IMAGE_PARAM_WORDS = 16;

/**
 * A small seeded generator (xoshiro128**, seeded through splitmix32) with the draws the
 * augmentation needs. Its state can be saved and restored for checkpoints.
 */
export class SeededRandom {
  #state = new Uint32Array(4);

  /** Creates a generator from a seed (any number; its low 32 bits are used). */
  constructor(seed = 0) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.#state[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.#state.every((word) => word === 0)) this.#state[0] = 1;
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const s = this.#state;
    const product = Math.imul(s[1], 5) >>> 0;
    const result = Math.imul((product << 7) | (product >>> 25), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = ((s[3] << 11) | (s[3] >>> 21)) >>> 0;
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Integer in [low, highExclusive), like `torch.randint(low, high)`. */
  integer(low: number, highExclusive: number): number {
    return low + Math.floor(this.next() * (highExclusive - low));
  }

  /** A random permutation of 0 .. n-1, like `torch.randperm(n)`. */
  permutation(n: number): number[] {
    const result = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [result[i], result[j]] = [result[j], result[i]];
    }
    return result;
  }

  /** The generator's state (four 32-bit words), for checkpoints. */
  get state(): number[] {
    return Array.from(this.#state);
  }

  /** Restores a state saved from `state`. */
  set state(words: number[]) {
    if (words.length !== 4) {
      throw new ShapeError(`SeededRandom: state needs 4 words, got ${words.length}`);
    }
    this.#state.set(words.map((word) => word >>> 0));
  }
}

/** Python's `round` (half to even), which torchvision's crop sampler uses. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * torchvision's `RandomResizedCrop.get_params`: up to 10 tries of an area fraction uniform in
 * `scale` and a log-uniform aspect ratio in `ratio`; then the centre crop clamped to `ratio`.
 */
export function sampleResizedCrop(
  random: SeededRandom,
  height: number,
  width: number,
  scale: readonly [number, number],
  ratio: readonly [number, number] = DEFAULT_RATIO,
): CropBox {
  const area = height * width;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * random.uniform(scale[0], scale[1]);
    const aspect = Math.exp(random.uniform(logRatio[0], logRatio[1]));
    const cropWidth = roundHalfEven(Math.sqrt(targetArea * aspect));
    const cropHeight = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (cropWidth > 0 && cropWidth <= width && cropHeight > 0 && cropHeight <= height) {
      const top = random.integer(0, height - cropHeight + 1);
      const left = random.integer(0, width - cropWidth + 1);
      return { top, left, height: cropHeight, width: cropWidth };
    }
  }
  const inRatio = width / height;
  let cropWidth = width;
  let cropHeight = height;
  if (inRatio < Math.min(...ratio)) {
    cropHeight = roundHalfEven(cropWidth / Math.min(...ratio));
  } else if (inRatio > Math.max(...ratio)) {
    cropWidth = roundHalfEven(cropHeight * Math.max(...ratio));
  }
  return {
    top: Math.floor((height - cropHeight) / 2),
    left: Math.floor((width - cropWidth) / 2),
    height: cropHeight,
    width: cropWidth,
  };
}

/**
 * torchvision's `ColorJitter.get_params`: a random permutation of the four operations, then
 * factors uniform in [max(0, 1 - s), 1 + s] (hue in [-s, s]); an operation of strength 0 is left out.
 */
export function sampleColorJitter(
  random: SeededRandom,
  strengths: { brightness: number; contrast: number; saturation: number; hue: number },
): ColorJitterParams {
  const names: JitterOperation[] = ["brightness", "contrast", "saturation", "hue"];
  const permutation = random.permutation(4);
  const factor = (strength: number) =>
    strength > 0 ? random.uniform(Math.max(0, 1 - strength), 1 + strength) : 1;
  const brightness = factor(strengths.brightness);
  const contrast = factor(strengths.contrast);
  const saturation = factor(strengths.saturation);
  const hue = strengths.hue > 0 ? random.uniform(-strengths.hue, strengths.hue) : 0;
  const order = permutation.map((index) => names[index]).filter((name) => strengths[name] > 0);
  return { order, brightness, contrast, saturation, hue };
}

/** Throws unless the view configuration is usable. */
export function validateViewConfig(view: ViewConfig, what: string): void {
  if (!Number.isInteger(view.size) || view.size < 1) {
    throw new ShapeError(`${what}: size must be a whole number >= 1, got ${view.size}`);
  }
  const [low, high] = view.scale;
  if (!(low > 0 && low <= high)) {
    throw new ShapeError(`${what}: scale must satisfy 0 < low <= high, got (${low}, ${high})`);
  }
  const ratio = view.ratio ?? DEFAULT_RATIO;
  if (!(ratio[0] > 0 && ratio[0] <= ratio[1])) {
    throw new ShapeError(
      `${what}: ratio must satisfy 0 < low <= high, got (${ratio[0]}, ${ratio[1]})`,
    );
  }
  if ((view.hue ?? 0.1) > 0.5 || (view.hue ?? 0.1) < 0) {
    throw new ShapeError(`${what}: hue strength must be in [0, 0.5], got ${view.hue}`);
  }
}

/**
 * Draws one image's parameters for `view` in DINO's order: crop, flip, jitter (applied with its
 * probability), grayscale, blur, solarisation.
 */
export function sampleImageAugmentation(
  random: SeededRandom,
  view: ViewConfig,
  height: number,
  width: number,
): ImageAugmentation {
  const crop = sampleResizedCrop(random, height, width, view.scale, view.ratio ?? DEFAULT_RATIO);
  return { crop, ...sampleViewEffects(random, view) };
}

/**
 * Draws what follows the crop for `view` (flip, jitter, grayscale, blur, solarisation), in
 * DINO's order: for views whose crop was cut on the CPU (streamed sources).
 */
export function sampleViewEffects(
  random: SeededRandom,
  view: ViewConfig,
): Omit<ImageAugmentation, "crop"> {
  const flip = random.next() < (view.flipProbability ?? 0.5);
  const applyJitter = random.next() < (view.jitterProbability ?? 0.8);
  const jitter = applyJitter
    ? sampleColorJitter(random, {
      brightness: view.brightness ?? 0.4,
      contrast: view.contrast ?? 0.4,
      saturation: view.saturation ?? 0.2,
      hue: view.hue ?? 0.1,
    })
    : { order: [], brightness: 1, contrast: 1, saturation: 1, hue: 0 };
  const grayscale = random.next() < (view.grayscaleProbability ?? 0.2);
  // DINO's GaussianBlur draws `random() <= p`, then the radius (sigma) uniform in its range.
  const blurProbability = view.blurProbability ?? 0.5;
  const [sigmaLow, sigmaHigh] = view.blurSigma ?? [0.1, 2];
  const blurSigma = blurProbability > 0 && random.next() <= blurProbability
    ? random.uniform(sigmaLow, sigmaHigh)
    : 0;
  const solarizeProbability = view.solarizeProbability ?? 0;
  const solarize = solarizeProbability > 0 && random.next() < solarizeProbability;
  return { flip, jitter, grayscale, blurSigma, solarize };
}

/** Kernel taps each side of a Gaussian of `sigma` (ceil(3 sigma); 0 for no blur). */
export function blurRadius(sigma: number): number {
  return sigma > 0 ? Math.ceil(3 * sigma) : 0;
}

/**
 * Packs per-image parameters, `IMAGE_PARAM_WORDS` words each, in the layout of `ImageParams` in
 * kernels/data/augment.wgsl: crop top, left, height, width (f32), flip (u32), jitter order (u32, 3 bits
 * per operation code, first operation lowest), brightness, contrast, saturation, hue (f32),
 * grayscale (u32), solarize (u32), blur sigma (f32), blur radius (u32), two unused words.
 */
export function packImageAugmentations(
  images: readonly ImageAugmentation[],
  into: Uint32Array = new Uint32Array(images.length * IMAGE_PARAM_WORDS),
): Uint32Array {
  if (into.length < images.length * IMAGE_PARAM_WORDS) {
    throw new ShapeError(
      `packImageAugmentations: buffer of ${into.length} words for ${images.length} images ` +
        `(want ${images.length * IMAGE_PARAM_WORDS})`,
    );
  }
  const floats = new Float32Array(into.buffer, into.byteOffset, into.length);
  images.forEach((image, index) => {
    const base = index * IMAGE_PARAM_WORDS;
    floats[base] = image.crop.top;
    floats[base + 1] = image.crop.left;
    floats[base + 2] = image.crop.height;
    floats[base + 3] = image.crop.width;
    into[base + 4] = image.flip ? 1 : 0;
    let order = 0;
    image.jitter.order.forEach((operation, position) => {
      order |= JITTER_OPERATION_CODES[operation] << (3 * position);
    });
    into[base + 5] = order;
    floats[base + 6] = image.jitter.brightness;
    floats[base + 7] = image.jitter.contrast;
    floats[base + 8] = image.jitter.saturation;
    floats[base + 9] = image.jitter.hue;
    into[base + 10] = image.grayscale ? 1 : 0;
    into[base + 11] = image.solarize ? 1 : 0;
    floats[base + 12] = image.blurSigma;
    into[base + 13] = blurRadius(image.blurSigma);
    into[base + 14] = 0;
    into[base + 15] = 0;
  });
  return into;
}
