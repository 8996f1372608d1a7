/**
 * IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed, and the `mnist` / `fashion-mnist`
 * presets.
 * @module
 */
import { ArrayDataset } from "./dataset.ts";

/** Raised for a missing, truncated or malformed IDX file; the message names the file. */
export class IdxError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "IdxError";
  }
}

/** Element types of IDX files, by type code. */
const IDX_TYPES: Record<number, { name: IdxType; bytes: number }> = {
  0x08: { name: "uint8", bytes: 1 },
  0x09: { name: "int8", bytes: 1 },
  0x0b: { name: "int16", bytes: 2 },
  0x0c: { name: "int32", bytes: 4 },
  0x0d: { name: "float32", bytes: 4 },
  0x0e: { name: "float64", bytes: 8 },
};

/** The element type names of IDX. */
export type IdxType = "uint8" | "int8" | "int16" | "int32" | "float32" | "float64";

/** A parsed IDX array; `data` is row-major with `dims`. */
export interface IdxArray {
  /** Element type. */
  type: IdxType;
  /** Dimensions, outermost first. */
  dims: number[];
  /** The elements (a view into the file bytes for uint8). */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/** Parses IDX bytes (already decompressed); `name` (a path) is used in errors. */
export function parseIdx(bytes: Uint8Array, name = "<bytes>"): IdxArray {
  if (bytes.length < 4) {
    throw new IdxError(`${name}: not an IDX file: ${bytes.length} bytes, shorter than the header`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new IdxError(
      `${name}: not an IDX file: magic starts ${hex(bytes[0])} ${hex(bytes[1])}, expected 00 00`,
    );
  }
  const type = IDX_TYPES[bytes[2]];
  if (!type) throw new IdxError(`${name}: unknown IDX element type code ${hex(bytes[2])}`);
  const rank = bytes[3];
  if (rank < 1) throw new IdxError(`${name}: IDX file with 0 dimensions`);
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new IdxError(
      `${name}: truncated IDX header: ${bytes.length} bytes, ${rank} dimensions need ${headerBytes}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < rank; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    dims.push(size);
    count *= size;
  }
  const expected = headerBytes + count * type.bytes;
  if (bytes.length !== expected) {
    throw new IdxError(
      `${name}: IDX size mismatch: dims [${dims.join(", ")}] of ${type.name} need ${expected} ` +
        `bytes, the file has ${bytes.length}` + (bytes.length < expected ? " (truncated)" : ""),
    );
  }
  const body = bytes.subarray(headerBytes);
  let data: IdxArray["data"];
  switch (type.name) {
    case "uint8":
      data = body;
      break;
    case "int8":
      data = new Int8Array(body.buffer, body.byteOffset, count);
      break;
    default: {
      // Big-endian multi-byte elements.
      const read = new DataView(body.buffer, body.byteOffset, body.byteLength);
      if (type.name === "int16") {
        data = Int16Array.from({ length: count }, (_, i) => read.getInt16(2 * i, false));
      } else if (type.name === "int32") {
        data = Int32Array.from({ length: count }, (_, i) => read.getInt32(4 * i, false));
      } else if (type.name === "float32") {
        data = Float32Array.from({ length: count }, (_, i) => read.getFloat32(4 * i, false));
      } else {
        data = Float64Array.from({ length: count }, (_, i) => read.getFloat64(8 * i, false));
      }
    }
  }
  return { type: type.name, dims, data };
}

function hex(value: number | undefined): string {
  return (value ?? 0).toString(16).padStart(2, "0");
}

/** Gunzips `bytes` with the platform's DecompressionStream. */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Reads an IDX file, gunzipping it when it starts with the gzip magic; errors name the file. */
export async function readIdxFile(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new IdxError(`${path}: cannot read: ${(error as Error).message}`, { cause: error });
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = await gunzip(bytes);
    } catch (error) {
      throw new IdxError(`${path}: corrupt or truncated gzip: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  return parseIdx(bytes, path);
}

/** One split of an MNIST-like set: `images` is [n, height, width] uint8. */
export interface IdxSplit {
  /** Pixels, `n * height * width` bytes. */
  images: Uint8Array;
  /** One label per image. */
  labels: Uint8Array;
  /** Image height (28). */
  height: number;
  /** Image width (28). */
  width: number;
  /** Always 1 (grayscale). */
  channels: 1;
  /** Number of classes (10). */
  classes: number;
  /** Class names, when the preset knows them. */
  classNames?: readonly string[];
}

/** Train and test splits of an MNIST-like set. */
export interface IdxSplits {
  /** The training split. */
  train: IdxSplit;
  /** The test split. */
  test: IdxSplit;
}

/** Reads an image file and a label file into one split, checking they agree. */
export async function readIdxSplit(
  imagesPath: string,
  labelsPath: string,
  classes = 10,
): Promise<IdxSplit> {
  const [images, labels] = await Promise.all([readIdxFile(imagesPath), readIdxFile(labelsPath)]);
  if (images.type !== "uint8" || images.dims.length !== 3) {
    throw new IdxError(
      `${imagesPath}: expected uint8 images [n, height, width], got ${images.type} ` +
        `[${images.dims.join(", ")}]`,
    );
  }
  if (labels.type !== "uint8" || labels.dims.length !== 1) {
    throw new IdxError(
      `${labelsPath}: expected uint8 labels [n], got ${labels.type} [${labels.dims.join(", ")}]`,
    );
  }
  if (images.dims[0] !== labels.dims[0]) {
    throw new IdxError(
      `${imagesPath} has ${images.dims[0]} images but ${labelsPath} has ${labels.dims[0]} labels`,
    );
  }
  const labelData = labels.data as Uint8Array;
  for (let i = 0; i < labelData.length; i++) {
    if (labelData[i] >= classes) {
      throw new IdxError(`${labelsPath}: label ${labelData[i]} at ${i} outside [0, ${classes})`);
    }
  }
  return {
    images: images.data as Uint8Array,
    labels: labelData,
    height: images.dims[1],
    width: images.dims[2],
    channels: 1,
    classes,
  };
}

/** The standard MNIST file stems; each may end in `.gz`. */
export const MNIST_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

/** Where Debian's `dataset-fashion-mnist` package installs its files. */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** Fashion-MNIST's class names, by label. */
export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
] as const;

async function findFile(dir: string, stem: string): Promise<string | undefined> {
  for (
    const candidate of [
      `${dir}/${stem}.gz`,
      `${dir}/${stem}`,
      `${dir}/${stem.replace(/-idx/, ".idx")}`,
    ]
  ) {
    try {
      if ((await Deno.stat(candidate)).isFile) return candidate;
    } catch {
      // try the next name
    }
  }
  return undefined;
}

/**
 * The `mnist` preset: reads the four standard files (raw or `.gz`) from `dir`; an error lists
 * the missing ones. `hint` is appended to that error.
 */
export async function loadMnist(dir: string, hint = ""): Promise<IdxSplits> {
  const found: Partial<Record<keyof typeof MNIST_FILES, string>> = {};
  const missing: string[] = [];
  for (const [key, stem] of Object.entries(MNIST_FILES)) {
    const path = await findFile(dir, stem);
    if (path) found[key as keyof typeof MNIST_FILES] = path;
    else missing.push(`${stem}[.gz]`);
  }
  if (missing.length > 0) {
    throw new IdxError(`MNIST-format files missing in ${dir}: ${missing.join(", ")}${hint}`);
  }
  const [train, test] = await Promise.all([
    readIdxSplit(found.trainImages!, found.trainLabels!),
    readIdxSplit(found.testImages!, found.testLabels!),
  ]);
  if (train.height !== test.height || train.width !== test.width) {
    throw new IdxError(
      `${dir}: train images are ${train.height}x${train.width} but test images are ` +
        `${test.height}x${test.width}`,
    );
  }
  return { train, test };
}

/**
 * The `fashion-mnist` preset: Debian's `dataset-fashion-mnist` files (60000 train, 10000 test
 * images of 28x28), with class names. A missing install gives an error saying how to install it.
 */
export async function loadFashionMnist(dir = FASHION_MNIST_DIR): Promise<IdxSplits> {
  const hint = `. Install Fashion-MNIST with: apt-get install dataset-fashion-mnist (it puts the ` +
    `files in ${FASHION_MNIST_DIR})`;
  const splits = await loadMnist(dir, hint);
  splits.train.classNames = FASHION_MNIST_CLASSES;
  splits.test.classNames = FASHION_MNIST_CLASSES;
  return splits;
}

/** Wraps an IDX split as a `Dataset` (1 channel, HWC with C = 1). */
export function idxDataset(split: IdxSplit): ArrayDataset {
  return new ArrayDataset({
    images: split.images,
    labels: split.labels,
    height: split.height,
    width: split.width,
    channels: 1,
    classes: split.classes,
    classNames: split.classNames,
  });
}
