/**
 * Streaming image sources: an index of paths (and labels) and nothing decoded up front. Folders in
 * ImageFolder layout (one subfolder per class) or flat (images only, unlabelled), and list files
 * (one path per line, optionally a label). `IndexedImages` is a `Dataset` whose `get` decodes one
 * file when asked (k-NN, tools; with the workers' decoder); training cuts its crops in the worker pool (./crop_pool.ts).
 * @module
 */
import { MAX_IMAGE_PIXELS } from "../../io/image.ts";
import { decodeFast } from "./fast_decode.ts";
import type { Dataset, Sample } from "../dataset.ts";
import { mixSeed, permutation } from "../dataset.ts";
import { shardOrder } from "./shard_order.ts";
import { IMAGE_EXTENSIONS, type SkippedImage } from "../image_folder.ts";

/** Paths of images with their labels (absent for unlabelled sources) and class names. */
export interface ImageIndex {
  /** One path per image. */
  paths: string[];
  /** One label per image, or undefined when the source has none. */
  labels?: Int32Array;
  /** Class names in label order (empty when unlabelled). */
  classNames: string[];
  /** Tar shards: byte offset of each image inside its file (absent: whole files). */
  offsets?: Float64Array;
  /** Tar shards: byte length of each image. */
  lengths?: Int32Array;
  /** Tar shards: the first image of each shard, and the count at the end (WebDataset order). */
  shardStarts?: Int32Array;
}

/** The bytes of an image: the whole file, or `length` bytes from `offset` (a tar member). */
export async function readImageBytes(
  path: string,
  offset?: number,
  length?: number,
): Promise<Uint8Array> {
  if (offset === undefined || length === undefined) return await Deno.readFile(path);
  const file = await Deno.open(path);
  try {
    await file.seek(offset, Deno.SeekMode.Start);
    const bytes = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const read = await file.read(bytes.subarray(done));
      if (read === null) throw new Error(`${path}: ends inside a member (${done} of ${length})`);
      done += read;
    }
    return bytes;
  } finally {
    file.close();
  }
}

/** A source that names no readable image; the message says which and why. */
export class ImageSourceError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ImageSourceError";
  }
}

function isImageName(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((extension) => lower.endsWith(extension));
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function listFolder(dir: string): Promise<{ folders: string[]; images: string[] }> {
  const folders: string[] = [];
  const images: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) folders.push(entry.name);
      else if (isImageName(entry.name)) images.push(entry.name);
    }
  } catch (error) {
    throw new ImageSourceError(`${dir}: cannot read the folder: ${(error as Error).message}`);
  }
  return { folders: folders.sort(byName), images: images.sort(byName) };
}

/**
 * Indexes `root`: with class subfolders, `root/<class>/<image>` (classes sorted, files sorted,
 * images directly in `root` ignored); without, the images of `root` itself, unlabelled. Reads
 * directory entries only. Throws `ImageSourceError` when nothing is found.
 */
export async function indexImageFolder(root: string): Promise<ImageIndex> {
  const top = await listFolder(root);
  const classNames: string[] = [];
  const paths: string[] = [];
  const labels: number[] = [];
  for (const name of top.folders) {
    const { images } = await listFolder(`${root}/${name}`);
    if (images.length === 0) continue;
    const label = classNames.push(name) - 1;
    for (const image of images) {
      paths.push(`${root}/${name}/${image}`);
      labels.push(label);
    }
  }
  if (paths.length > 0) return { paths, labels: Int32Array.from(labels), classNames };
  if (top.images.length === 0) {
    throw new ImageSourceError(
      `${root}: no image (.jpg, .jpeg, .png) in the folder or in its subfolders`,
    );
  }
  return { paths: top.images.map((name) => `${root}/${name}`), classNames: [] };
}

/**
 * Indexes a list file: one image path per line (relative paths from the file's folder), each
 * optionally followed by whitespace and a label (a class name or number). Blank lines and lines
 * starting with `#` are skipped. Labels must be on every line or on none.
 */
export async function indexImageList(file: string): Promise<ImageIndex> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new ImageSourceError(`${file}: cannot read the list: ${(error as Error).message}`);
  }
  const base = file.includes("/") ? file.slice(0, file.lastIndexOf("/") + 1) : "";
  const paths: string[] = [];
  const names: (string | undefined)[] = [];
  text.split("\n").forEach((raw) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const match = /^(.*?)(?:\s+(\S+))?$/.exec(line)!;
    const path = match[2] !== undefined && !isImageName(match[2]) ? match[1] : line;
    const label = path === line ? undefined : match[2];
    paths.push(path.startsWith("/") ? path : base + path);
    names.push(label);
  });
  if (paths.length === 0) throw new ImageSourceError(`${file}: the list names no image`);
  const labelled = names.filter((name) => name !== undefined).length;
  if (labelled === 0) return { paths, classNames: [] };
  if (labelled !== names.length) {
    throw new ImageSourceError(
      `${file}: ${labelled} of ${names.length} lines have a label: give one on every line or none`,
    );
  }
  const unique = [...new Set(names as string[])];
  const numeric = unique.every((name) => /^\d+$/.test(name));
  const classNames = numeric ? unique.sort((a, b) => Number(a) - Number(b)) : unique.sort(byName);
  const label = new Map(classNames.map((name, i) => [name, i]));
  return { paths, labels: Int32Array.from(names, (name) => label.get(name!)!), classNames };
}

/**
 * The images of an index as a `Dataset`: `get` reads and decodes one file (original size, RGB).
 * A file that cannot be decoded is recorded in `skipped` and replaced by the next readable one,
 * so that a bad file never stops a run. Unlabelled sources have one class and label 0.
 */
export class IndexedImages implements Dataset {
  /** The index. */
  readonly index: ImageIndex;
  /** Where the images come from ("folder:/data/pets"). */
  readonly name: string;
  /** Files found unreadable so far (shared by subsets). */
  readonly skipped: SkippedImage[];
  /** Channels of every sample (RGB). */
  readonly channels = 3;
  /** Images in the shuffle buffer of tar shards. */
  shuffleBuffer = 1000;

  /** Wraps an index; `skipped` is shared with the sources it is split from. */
  constructor(index: ImageIndex, name: string, skipped: SkippedImage[] = []) {
    this.index = index;
    this.name = name;
    this.skipped = skipped;
  }

  /** Number of images. */
  get length(): number {
    return this.index.paths.length;
  }

  /** Whether the images carry labels. */
  get labelled(): boolean {
    return this.index.labels !== undefined;
  }

  /** Number of classes (1 when unlabelled). */
  get classes(): number {
    return Math.max(1, this.index.classNames.length);
  }

  /** Class names, when labelled. */
  get classNames(): readonly string[] | undefined {
    return this.labelled ? this.index.classNames : undefined;
  }

  /** Label of image `i` (0 when unlabelled). */
  label(i: number): number {
    return this.index.labels?.[i] ?? 0;
  }

  /** The byte range of image `i` in its file: [offset, length], or none for a whole file. */
  range(i: number): [number?, number?] {
    const { offsets, lengths } = this.index;
    return offsets && lengths ? [offsets[i], lengths[i]] : [];
  }

  /**
   * The order of `epoch`: a seeded permutation, or for tar shards WebDataset's (shards shuffled,
   * then a shuffle buffer of `shuffleBuffer` images; see `shardOrder`).
   */
  order(seed: number, epoch: number): Int32Array {
    const starts = this.index.shardStarts;
    if (starts) return shardOrder(starts, seed, epoch, this.shuffleBuffer);
    return permutation(this.length, mixSeed(seed, epoch, 0x10ad));
  }

  /** Image `index` decoded (or the next readable one, see the class doc). */
  async get(index: number): Promise<Sample> {
    const n = this.length;
    for (let tries = 0; tries < Math.min(n, 64); tries++) {
      const i = (index + tries) % n;
      const path = this.index.paths[i];
      try {
        const bytes = await readImageBytes(path, ...this.range(i));
        const image = await decodeFast(bytes, MAX_IMAGE_PIXELS);
        return { ...image, image: image.data, channels: 3, label: this.label(index) };
      } catch (error) {
        if (!this.skipped.some((skip) => skip.path === path)) {
          this.skipped.push({ path, reason: (error as Error).message });
        }
      }
    }
    throw new ImageSourceError(`${this.name}: no readable image near index ${index}`);
  }

  /** The images at `indices`, in that order (tar shards: as files in a plain permutation). */
  subset(indices: ArrayLike<number>): IndexedImages {
    const { offsets, lengths } = this.index;
    const paths = Array.from(indices, (i) => this.index.paths[i]);
    const labels = this.index.labels
      ? Int32Array.from(indices, (i) => this.index.labels![i])
      : undefined;
    const pick = <T extends Float64Array | Int32Array>(
      array: T | undefined,
      make: (n: number[]) => T,
    ) => array ? make(Array.from(indices, (i) => array[i])) : undefined;
    return new IndexedImages(
      {
        paths,
        labels,
        classNames: this.index.classNames,
        offsets: pick(offsets, (values) => Float64Array.from(values)),
        lengths: pick(lengths, (values) => Int32Array.from(values)),
      },
      this.name,
      this.skipped,
    );
  }

  /** A seeded split: `testFraction` of the images (at least one) to test, the rest to train. */
  split(seed: number, testFraction: number): { train: IndexedImages; test: IndexedImages } {
    const order = permutation(this.length, seed ^ 0x5b1d);
    const testCount = Math.max(1, Math.round(this.length * testFraction));
    const sorted = (part: Int32Array) => Int32Array.from(part).sort();
    return {
      train: this.subset(sorted(order.subarray(testCount))),
      test: this.subset(sorted(order.subarray(0, testCount))),
    };
  }
}
