/**
 * The streamed sources of a data spec (`folder:DIR`, `list:FILE`, `tar:PATTERN`): their index, their splits and
 * how test classes map onto train classes. Called by `loadDataSpec` (../spec.ts).
 * @module
 */
import type { Dataset } from "../dataset.ts";
import type { SkippedImage } from "../image_folder.ts";
import {
  type ImageIndex,
  ImageSourceError,
  IndexedImages,
  indexImageFolder,
  indexImageList,
} from "./image_index.ts";
import { indexTarShards } from "./tar_shards.ts";

/** What `loadDataSpec` returns, for the streamed sources. */
export interface StreamedData {
  /** The train split. */
  train: Dataset;
  /** The test split (empty when unlabelled). */
  test: Dataset;
  /** Number of classes (1 when unlabelled). */
  classes: number;
  /** Class names (empty when unlabelled). */
  classNames: readonly string[];
  /** "folder:/data/pets". */
  name: string;
  /** Unreadable images met so far (filled as the run meets them). */
  skipped: SkippedImage[];
  /** Whether the images carry labels. */
  labelled: boolean;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/** `test`'s labels renamed to the class order of `train` (classes matched by name). */
function relabel(test: ImageIndex, train: ImageIndex, where: string): ImageIndex {
  if (!test.labels || !train.labels) return test;
  const index = new Map(train.classNames.map((name, i) => [name, i]));
  const unknown = test.classNames.filter((name) => !index.has(name));
  if (unknown.length > 0) {
    throw new ImageSourceError(
      `${where}: classes ${unknown.join(", ")} are not among the train classes ` +
        `(${train.classNames.join(", ")})`,
    );
  }
  const labels = Int32Array.from(test.labels, (label) => index.get(test.classNames[label])!);
  return { paths: test.paths, labels, classNames: train.classNames };
}

/**
 * Indexes `folder:DIR` (DIR/train with DIR/val or DIR/test when present), `list:FILE` or
 * `tar:PATTERN`; a labelled folder or list without its own test split is split seeded
 * `testFraction` to test; tar shards are not split (their `test` is empty).
 * Throws `ImageSourceError` for a missing or empty source.
 */
export async function streamedSource(
  kind: "folder" | "list" | "tar",
  argument: string,
  seed: number,
  testFraction: number,
): Promise<StreamedData> {
  const root = kind === "folder" ? argument.replace(/\/+$/, "") || "/" : argument;
  const name = `${kind}:${root}`;
  const skipped: SkippedImage[] = [];
  let train: IndexedImages;
  let test: IndexedImages;
  if (kind === "tar") {
    // one stream in WebDataset order: no split (a k-NN needs a labelled folder:, list: or tar:)
    const all = new IndexedImages(await indexTarShards(argument), name, skipped);
    return {
      train: all,
      test: all.subset([]),
      classes: all.classes,
      classNames: all.classNames ?? [],
      name,
      skipped,
      labelled: all.labelled,
    };
  }
  if (kind === "folder" && !(await isDirectory(root))) {
    throw new ImageSourceError(`${root} is not a readable directory`);
  }
  const testFolder = kind === "folder" && await isDirectory(`${root}/train`)
    ? ((await isDirectory(`${root}/val`))
      ? "val"
      : (await isDirectory(`${root}/test`))
      ? "test"
      : undefined)
    : undefined;
  if (testFolder) {
    const trainIndex = await indexImageFolder(`${root}/train`);
    const testIndex = relabel(
      await indexImageFolder(`${root}/${testFolder}`),
      trainIndex,
      `${root}/${testFolder}`,
    );
    train = new IndexedImages(trainIndex, name, skipped);
    test = new IndexedImages(testIndex, name, skipped);
  } else {
    const all = new IndexedImages(
      kind === "folder" ? await indexImageFolder(root) : await indexImageList(root),
      name,
      skipped,
    );
    if (all.labelled) {
      if (all.length < 2) {
        throw new ImageSourceError(`${all.length} image, need at least 2 to split`);
      }
      ({ train, test } = all.split(seed, testFraction));
    } else {
      train = all;
      test = all.subset([]);
    }
  }
  return {
    train,
    test,
    classes: train.classes,
    classNames: train.classNames ?? [],
    name,
    skipped,
    labelled: train.labelled,
  };
}
