/**
 * Image folders: one subfolder per class holding JPEG and PNG files. Images are decoded once,
 * resized (bilinear) to a common size only when they differ from it, and kept in memory. Corrupt
 * or unreadable images are skipped and reported, never fatal.
 * @module
 */
import { decodeImage, resizeBilinear } from "../io/image.ts";
import { ArrayDataset } from "./dataset.ts";

/** File name endings read as images (case-insensitive). */
export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png"] as const;

/** An image that was not loaded, and why. */
export interface SkippedImage {
  /** The file's path. */
  path: string;
  /** What went wrong (decoder or file system message). */
  reason: string;
}

/** Options of `loadImageFolder`. */
export interface ImageFolderOptions {
  /**
   * Common size [height, width] (or one side for squares). Default: the size of the first image
   * that decodes; images of other sizes are resized to it.
   */
  size?: number | [number, number];
}

/** An image-folder dataset plus what was skipped. */
export interface ImageFolder {
  /** The decoded images (RGB, common size) and labels. */
  dataset: ArrayDataset;
  /** Path of each sample, in dataset order. */
  paths: string[];
  /** Class folder names, in label order (sorted). */
  classNames: string[];
  /** Files with an image extension that could not be read or decoded. */
  skipped: SkippedImage[];
  /** How many loaded images had to be resized. */
  resized: number;
}

function isImageName(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((extension) => lower.endsWith(extension));
}

async function sortedEntries(dir: string): Promise<Deno.DirEntry[]> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Loads `root/<class>/<image>` files: classes are the subfolders in sorted order, files sorted by
 * name; other files are ignored. Throws when `root` is unreadable or holds no loadable image.
 */
export async function loadImageFolder(
  root: string,
  options: ImageFolderOptions = {},
): Promise<ImageFolder> {
  let target: [number, number] | undefined = typeof options.size === "number"
    ? [options.size, options.size]
    : options.size;
  if (target && !target.every((side) => Number.isInteger(side) && side >= 1)) {
    throw new RangeError(`loadImageFolder: size must be positive integers, got [${target}]`);
  }
  let top: Deno.DirEntry[];
  try {
    top = await sortedEntries(root);
  } catch (error) {
    throw new Error(`${root}: cannot read the image folder: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const classNames = top.filter((entry) => entry.isDirectory).map((entry) => entry.name);
  if (classNames.length === 0) {
    throw new Error(`${root}: no class subfolders (expected ${root}/<class>/<image>.png|jpg)`);
  }
  const pixels: Uint8Array[] = [];
  const labels: number[] = [];
  const paths: string[] = [];
  const skipped: SkippedImage[] = [];
  let resized = 0;
  for (let label = 0; label < classNames.length; label++) {
    const dir = `${root}/${classNames[label]}`;
    let files: Deno.DirEntry[];
    try {
      files = await sortedEntries(dir);
    } catch (error) {
      skipped.push({ path: dir, reason: `cannot read folder: ${(error as Error).message}` });
      continue;
    }
    for (const file of files) {
      if (file.isDirectory || !isImageName(file.name)) continue;
      const path = `${dir}/${file.name}`;
      let image;
      try {
        image = decodeImage(await Deno.readFile(path));
      } catch (error) {
        skipped.push({ path, reason: (error as Error).message });
        continue;
      }
      target ??= [image.height, image.width];
      if (image.height !== target[0] || image.width !== target[1]) {
        image = resizeBilinear(image, target[1], target[0]);
        resized++;
      }
      pixels.push(image.data);
      labels.push(label);
      paths.push(path);
    }
  }
  if (pixels.length === 0 || !target) {
    throw new Error(
      `${root}: no loadable image in ${classNames.length} class folders` +
        (skipped.length
          ? ` (${skipped.length} skipped, first: ${skipped[0].path}: ${skipped[0].reason})`
          : ""),
    );
  }
  const imageBytes = target[0] * target[1] * 3;
  const images = new Uint8Array(pixels.length * imageBytes);
  pixels.forEach((data, i) => images.set(data, i * imageBytes));
  const dataset = new ArrayDataset({
    images,
    labels: Int32Array.from(labels),
    height: target[0],
    width: target[1],
    channels: 3,
    classes: classNames.length,
    classNames,
  });
  return { dataset, paths, classNames, skipped, resized };
}
