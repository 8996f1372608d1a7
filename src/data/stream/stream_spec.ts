/**
 * The streamed sources of a data spec (`folder:DIR`, `list:FILE`, `tar:PATTERN`): their index, their splits and
 * how test classes map onto train classes. Called by `loadDataSpec` (../spec.ts).
 * @module
 */
import type { SkippedImage } from "../image_folder.ts";
import type { LoadedData } from "../spec.ts";
import {
  type ImageIndex,
  ImageSourceError,
  IndexedImages,
  indexImageFolder,
  indexImageList,
} from "./image_index.ts";
import { indexTarShards } from "./tar_shards.ts";

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
  return { ...test, labels, classNames: train.classNames };
}

/** The splits of `tar:PATTERN[|TEST_PATTERN]`: the train shards, and the test shards if named. */
async function tarSplits(
  argument: string,
  name: string,
  skipped: SkippedImage[],
): Promise<{ train: IndexedImages; test: IndexedImages }> {
  // one stream in WebDataset order, not split: the test shards, if any, follow a "|"
  const bar = argument.indexOf("|");
  const trainPattern = bar < 0 ? argument : argument.slice(0, bar);
  const trainIndex = await indexTarShards(trainPattern);
  const train = new IndexedImages(trainIndex, name, skipped);
  if (bar < 0) return { train, test: train.subset([]) };
  const testPattern = argument.slice(bar + 1);
  if (!testPattern) throw new ImageSourceError(`no test shards after the "|"`);
  const testIndex = await indexTarShards(testPattern);
  if ((testIndex.labels === undefined) !== (trainIndex.labels === undefined)) {
    const [labelled, bare] = trainIndex.labels
      ? [trainPattern, testPattern]
      : [testPattern, trainPattern];
    throw new ImageSourceError(
      `the shards of ${labelled} have .cls labels, those of ${bare} not: give both or neither`,
    );
  }
  const test = new IndexedImages(relabel(testIndex, trainIndex, testPattern), name, skipped);
  return { train, test };
}

/**
 * The splits of `folder:DIR` or `list:FILE`: DIR/train with DIR/val or DIR/test when present,
 * otherwise the whole source, split seeded `testFraction` to test when labelled.
 */
async function folderSplits(
  kind: "folder" | "list",
  root: string,
  name: string,
  skipped: SkippedImage[],
  seed: number,
  testFraction: number,
): Promise<{ train: IndexedImages; test: IndexedImages }> {
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
    return {
      train: new IndexedImages(trainIndex, name, skipped),
      test: new IndexedImages(testIndex, name, skipped),
    };
  }
  const all = new IndexedImages(
    kind === "folder" ? await indexImageFolder(root) : await indexImageList(root),
    name,
    skipped,
  );
  if (!all.labelled) return { train: all, test: all.subset([]) };
  if (all.length < 2) {
    throw new ImageSourceError(`${all.length} image, need at least 2 to split`);
  }
  return all.split(seed, testFraction);
}

/**
 * Indexes `folder:DIR` (DIR/train with DIR/val or DIR/test when present), `list:FILE` or
 * `tar:PATTERN[|TEST_PATTERN]`; a labelled folder or list without its own test split is split
 * seeded `testFraction` to test; tar shards are not split: their test split is the shards of
 * TEST_PATTERN (classes matched by `.cls` label), empty without one. Unlabelled, the test split is
 * empty, there is 1 class and no class name; `skipped` fills as the run meets unreadable images.
 * Throws `ImageSourceError` for a missing or empty source.
 */
export async function streamedSource(
  kind: "folder" | "list" | "tar",
  argument: string,
  seed: number,
  testFraction: number,
): Promise<LoadedData> {
  const root = kind === "folder" ? argument.replace(/\/+$/, "") || "/" : argument;
  const name = `${kind}:${root}`;
  const skipped: SkippedImage[] = [];
  const { train, test } = kind === "tar"
    ? await tarSplits(argument, name, skipped)
    : await folderSplits(kind, root, name, skipped, seed, testFraction);
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
