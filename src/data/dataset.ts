/**
 * The dataset interface every source implements (IDX, synthetic, image folders), an in-memory
 * implementation, subsets, and a seeded train/test split.
 * @module
 */

/** One labelled image: 8-bit pixels in HWC order. */
export interface Sample {
  /** Pixels, `height * width * channels` bytes, row-major HWC. */
  image: Uint8Array;
  /** Height in pixels. */
  height: number;
  /** Width in pixels. */
  width: number;
  /** Channels per pixel (1 gray, 3 RGB). */
  channels: number;
  /** Class index in `[0, classes)`. */
  label: number;
}

/** A labelled image collection read by index. */
export interface Dataset {
  /** Number of samples. */
  readonly length: number;
  /** Number of classes; labels are in `[0, classes)`. */
  readonly classes: number;
  /** Optional class names, `classes` of them. */
  readonly classNames?: readonly string[];
  /** Height shared by all samples, when they share one. */
  readonly height?: number;
  /** Width shared by all samples, when they share one. */
  readonly width?: number;
  /** Channels shared by all samples. */
  readonly channels: number;
  /** Sample `index` (0 <= index < length). */
  get(index: number): Sample | Promise<Sample>;
}

/** Images stored back to back as [n, height, width, channels] with one label each. */
export interface ImageArrays {
  /** Pixels, `n * height * width * channels` bytes. */
  images: Uint8Array;
  /** One label per image. */
  labels: ArrayLike<number>;
  /** Image height. */
  height: number;
  /** Image width. */
  width: number;
  /** Channels per pixel. */
  channels: number;
  /** Number of classes. */
  classes: number;
  /** Optional class names. */
  classNames?: readonly string[];
}

/** An in-memory dataset over `ImageArrays`; `get` returns views, not copies. */
export class ArrayDataset implements Dataset {
  /** The arrays behind the dataset. */
  readonly arrays: ImageArrays;
  /** Bytes per image. */
  readonly imageBytes: number;

  /** Validates the arrays (sizes and label range) and wraps them. */
  constructor(arrays: ImageArrays) {
    const { images, labels, height, width, channels, classes } = arrays;
    for (const [name, value] of Object.entries({ height, width, channels, classes })) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(`ArrayDataset: ${name} must be a positive integer, got ${value}`);
      }
    }
    this.imageBytes = height * width * channels;
    if (images.length !== labels.length * this.imageBytes) {
      throw new RangeError(
        `ArrayDataset: ${images.length} image bytes for ${labels.length} labels of ` +
          `[${height}, ${width}, ${channels}] (expected ${labels.length * this.imageBytes})`,
      );
    }
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i];
      if (!Number.isInteger(label) || label < 0 || label >= classes) {
        throw new RangeError(`ArrayDataset: label ${label} of sample ${i} outside [0, ${classes})`);
      }
    }
    if (arrays.classNames && arrays.classNames.length !== classes) {
      throw new RangeError(
        `ArrayDataset: ${arrays.classNames.length} class names for ${classes} classes`,
      );
    }
    this.arrays = arrays;
  }

  /** Number of samples. */
  get length(): number {
    return this.arrays.labels.length;
  }
  /** Number of classes. */
  get classes(): number {
    return this.arrays.classes;
  }
  /** Class names, when known. */
  get classNames(): readonly string[] | undefined {
    return this.arrays.classNames;
  }
  /** Image height. */
  get height(): number {
    return this.arrays.height;
  }
  /** Image width. */
  get width(): number {
    return this.arrays.width;
  }
  /** Channels per pixel. */
  get channels(): number {
    return this.arrays.channels;
  }

  /** Sample `index`; its image is a view into the shared array. */
  get(index: number): Sample {
    checkIndex(index, this.length);
    const { images, labels, height, width, channels } = this.arrays;
    const start = index * this.imageBytes;
    return {
      image: images.subarray(start, start + this.imageBytes),
      height,
      width,
      channels,
      label: labels[index],
    };
  }
}

function checkIndex(index: number, length: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new RangeError(`dataset index ${index} outside [0, ${length})`);
  }
}

/** The samples of `dataset` at `indices`, in that order. */
export function subset(dataset: Dataset, indices: ArrayLike<number>): Dataset {
  const picked = Int32Array.from(indices as ArrayLike<number>);
  for (const index of picked) checkIndex(index, dataset.length);
  return {
    length: picked.length,
    classes: dataset.classes,
    classNames: dataset.classNames,
    height: dataset.height,
    width: dataset.width,
    channels: dataset.channels,
    get(index: number) {
      checkIndex(index, picked.length);
      return dataset.get(picked[index]);
    },
  };
}

/**
 * A seeded pseudo-random generator (mulberry32) returning floats in [0, 1). Same seed, same
 * sequence, on every platform.
 */
export function seededRandom(seed: number): () => number {
  let state = (seed >>> 0) ^ 0x9e3779b9;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes several integers into one 32-bit seed (for per-epoch or per-item streams). */
export function mixSeed(...values: number[]): number {
  let h = 0x811c9dc5;
  for (const value of values) {
    h = Math.imul(h ^ (value >>> 0), 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
  }
  return h >>> 0;
}

/** A seeded random permutation of `0..n-1` (Fisher-Yates). */
export function permutation(n: number, seed: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const random = seededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Options of `trainTestSplit`. */
export interface SplitOptions {
  /** Share of samples in the test split, in (0, 1); default 0.2. */
  testFraction?: number;
  /** Shuffling seed; default 0. */
  seed?: number;
  /**
   * Keep class proportions in both splits (needs the labels, so it reads every sample's label);
   * default true for an `ArrayDataset`, false otherwise.
   */
  stratify?: boolean;
}

/**
 * Splits `dataset` into seeded, disjoint train and test subsets. With stratification each class
 * contributes `round(count * testFraction)` samples to the test split.
 */
export function trainTestSplit(
  dataset: Dataset,
  options: SplitOptions = {},
): { train: Dataset; test: Dataset } {
  const testFraction = options.testFraction ?? 0.2;
  const seed = options.seed ?? 0;
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new RangeError(`trainTestSplit: testFraction must be in (0, 1), got ${testFraction}`);
  }
  const stratify = options.stratify ?? dataset instanceof ArrayDataset;
  const order = permutation(dataset.length, mixSeed(seed, 0x5eed));
  const train: number[] = [];
  const test: number[] = [];
  if (stratify) {
    if (!(dataset instanceof ArrayDataset)) {
      throw new Error("trainTestSplit: stratify needs an in-memory ArrayDataset");
    }
    const labels = dataset.arrays.labels;
    const byClass: number[][] = Array.from({ length: dataset.classes }, () => []);
    for (const index of order) byClass[labels[index]].push(index);
    for (const members of byClass) {
      const testCount = Math.round(members.length * testFraction);
      test.push(...members.slice(0, testCount));
      train.push(...members.slice(testCount));
    }
  } else {
    const testCount = Math.round(dataset.length * testFraction);
    test.push(...order.subarray(0, testCount));
    train.push(...order.subarray(testCount));
  }
  train.sort((a, b) => a - b);
  test.sort((a, b) => a - b);
  return { train: subset(dataset, train), test: subset(dataset, test) };
}

/** Draws one generated image of class `label` into `out` (size * size * 3 bytes, RGB). */
export type ImageRenderer = (
  out: Uint8Array,
  size: number,
  label: number,
  random: () => number,
) => void;

/** Options of `generatedDataset`. */
export interface GeneratedOptions {
  /** Name of the generator, for error messages. */
  what: string;
  /** Number of images (>= 1). */
  count: number;
  /** Side of the square images in pixels (>= 8). */
  size: number;
  /** Seed of the labels' order and of every image. */
  seed: number;
  /** Class names; their number is the number of classes. */
  classNames: readonly string[];
  /** Seed salts of the label order and of the images, so that generators draw apart. */
  salts: readonly [number, number];
}

/**
 * A balanced, seeded set of generated RGB images: `count` labels (counts differ by at most one)
 * in seeded random order, image `i` drawn by `render` from its own seeded generator.
 */
export function generatedDataset(options: GeneratedOptions, render: ImageRenderer): ArrayDataset {
  const { what, count, size, seed, classNames, salts } = options;
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`${what}: count must be a positive integer, got ${count}`);
  }
  if (!Number.isInteger(size) || size < 8) {
    throw new RangeError(`${what}: size must be an integer >= 8, got ${size}`);
  }
  const classes = classNames.length;
  const order = permutation(count, mixSeed(seed, salts[0]));
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[order[i]] = i % classes;
  const imageBytes = size * size * 3;
  const images = new Uint8Array(count * imageBytes);
  for (let i = 0; i < count; i++) {
    const random = seededRandom(mixSeed(seed, salts[1], i));
    render(images.subarray(i * imageBytes, (i + 1) * imageBytes), size, labels[i], random);
  }
  return new ArrayDataset({
    images,
    labels,
    height: size,
    width: size,
    channels: 3,
    classes,
    classNames: [...classNames],
  });
}
