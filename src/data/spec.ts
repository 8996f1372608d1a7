/**
 * Data specs shared by every command (`--data SPEC`): one string names a labelled source and
 * gives its train and test splits.
 *
 * - `synthetic[:COUNT]`: the built-in generated shapes (default 2000 images), split seeded 80/20.
 * - `textures[:COUNT]`: the built-in generated textures (default 2000 images), split seeded 80/20.
 * - `fashion-mnist[:DIR]`: Debian's dataset-fashion-mnist files (or the same files in DIR).
 * - `mnist:DIR`: the four MNIST-format IDX files (raw or .gz) in DIR.
 * - `folder:DIR`: DIR/<class>/<image>.png|jpg (ImageFolder layout) or a flat folder of images
 *   (unlabelled); with DIR/train and DIR/val or DIR/test subfolders those are the splits,
 *   otherwise a labelled folder is split seeded 80/20. Nothing is decoded up front: the images
 *   are streamed (src/data/stream/); unreadable ones are skipped and listed when met.
 * - `list:FILE`: a text file of image paths, one per line, each optionally with a label.
 * - `tar:PATTERN[|TEST_PATTERN]`: WebDataset tar shards (`shards/train-{000000..000127}.tar`),
 *   streamed in WebDataset's order (shards shuffled, then a shuffle buffer); labels from `.cls`
 *   members. The shards are not split: a test split is the shards named after a `|`
 *   (`tar:shards/train-{000000..000127}.tar|shards/val-{000000..000004}.tar`).
 *
 * A training run evaluates its k-NN on the splits of a labelled spec: `--data`'s, or those of
 * `--eval-data` (`loadEvalDataSpec`), the only way for an unlabelled training source.
 * @module
 */
import { ArrayDataset, type Dataset, trainTestSplit } from "./dataset.ts";
import { idxDataset, IdxError, loadFashionMnist, loadMnist } from "./idx.ts";
import type { SkippedImage } from "./image_folder.ts";
import { ImageSourceError } from "./stream/image_index.ts";
import { streamedSource } from "./stream/stream_spec.ts";
import { syntheticDataset } from "./synthetic.ts";
import { texturesDataset } from "./textures.ts";

/** The spec forms, for help texts and error messages. */
export const DATA_SPEC_FORMS: readonly string[] = [
  "synthetic[:COUNT]",
  "textures[:COUNT]",
  "fashion-mnist[:DIR]",
  "mnist:DIR",
  "folder:DIR",
  "list:FILE",
  "tar:PATTERN[|TEST_PATTERN]",
];

/** Options of `loadDataSpec`. */
export interface DataSpecOptions {
  /** Seed of generated data and of splits; default 0. */
  seed?: number;
  /** Share of the test split when one source is split; default 0.2. */
  testFraction?: number;
  /** Side of synthetic images; default 32. */
  syntheticSize?: number;
  /** Common image size of folders (default: the first image's size). */
  folderSize?: number;
  /** The option that gave the spec, named in errors (default "--data"). */
  flag?: string;
}

/** A loaded spec: both splits and what was learnt reading them. */
export interface LoadedData {
  /** The train split. */
  train: Dataset;
  /** The test split. */
  test: Dataset;
  /** Number of classes. */
  classes: number;
  /** One name per class. */
  classNames: readonly string[];
  /** A short name of the source ("synthetic:2000", "fashion-mnist", "folder:/data/pets"). */
  name: string;
  /** Images that could not be read (image folders only). */
  skipped: SkippedImage[];
  /**
   * Whether the images carry labels; false for a flat folder or an unlabelled list, whose
   * `test` is empty (no k-NN can be run on it).
   */
  labelled: boolean;
}

/** A spec that names no valid source or whose files are missing; the message says what to do. */
export class DataSpecError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DataSpecError";
  }
}

function invalidSpec(spec: string, why: string, flag = "--data"): DataSpecError {
  return new DataSpecError(
    `${flag} ${JSON.stringify(spec)}: ${why}; valid specs: ${DATA_SPEC_FORMS.join(", ")}`,
  );
}

function namesOf(dataset: Dataset): string[] {
  return dataset.classNames
    ? [...dataset.classNames]
    : Array.from({ length: dataset.classes }, (_, c) => String(c));
}

/**
 * Parses `spec` and loads its train and test splits. Throws `DataSpecError` for an unknown form,
 * a bad count, or missing files (naming the valid forms or how to install the data).
 */
export async function loadDataSpec(
  spec: string,
  options: DataSpecOptions = {},
): Promise<LoadedData> {
  const seed = options.seed ?? 0;
  const testFraction = options.testFraction ?? 0.2;
  // errors of a spec given by another option than --data name that option first
  const from = options.flag && options.flag !== "--data" ? `${options.flag} ` : "";
  const invalid = (spec: string, why: string) => invalidSpec(spec, why, options.flag);
  const colon = spec.indexOf(":");
  const kind = (colon < 0 ? spec : spec.slice(0, colon)).trim().toLowerCase();
  const argument = colon < 0 ? undefined : spec.slice(colon + 1);
  switch (kind) {
    case "synthetic":
    case "textures": {
      const count = argument === undefined || argument === "" ? 2000 : Number(argument);
      if (!Number.isInteger(count) || count < 10) {
        throw invalid(spec, `COUNT must be a whole number >= 10, got ${JSON.stringify(argument)}`);
      }
      const generate = kind === "synthetic" ? syntheticDataset : texturesDataset;
      const all = generate({ count, seed, size: options.syntheticSize ?? 32 });
      const { train, test } = trainTestSplit(all, { seed, testFraction });
      return {
        train,
        test,
        classes: all.classes,
        classNames: namesOf(all),
        name: `${kind}:${count}`,
        skipped: [],
        labelled: true,
      };
    }
    case "fashion-mnist":
    case "mnist": {
      if (kind === "mnist" && !argument) {
        throw invalid(spec, "mnist needs the folder of its IDX files: mnist:DIR");
      }
      let splits;
      try {
        splits = kind === "mnist"
          ? await loadMnist(argument!)
          : await loadFashionMnist(argument || undefined);
      } catch (error) {
        if (error instanceof IdxError) {
          throw new DataSpecError(from + error.message, { cause: error });
        }
        throw error;
      }
      const train = idxDataset(splits.train);
      const test = idxDataset(splits.test);
      const classes = Math.max(train.classes, test.classes);
      const widen = (dataset: ArrayDataset) =>
        dataset.classes === classes ? dataset : new ArrayDataset({
          ...dataset.arrays,
          classes,
          classNames: dataset.classNames?.length === classes ? dataset.classNames : undefined,
        });
      const wideTrain = widen(train);
      return {
        train: wideTrain,
        test: widen(test),
        classes,
        classNames: namesOf(wideTrain),
        name: argument ? `${kind}:${argument}` : kind,
        skipped: [],
        labelled: true,
      };
    }
    case "folder":
    case "list":
    case "tar": {
      if (!argument) {
        throw invalid(
          spec,
          kind === "folder"
            ? "folder needs a directory: folder:DIR"
            : kind === "list"
            ? "list needs a file: list:FILE"
            : "tar needs a shard pattern: tar:PATTERN",
        );
      }
      try {
        return await streamedSource(kind, argument, seed, testFraction);
      } catch (error) {
        if (error instanceof ImageSourceError) {
          throw new DataSpecError(`${from}${kind}:${argument}: ${error.message}`, {
            cause: error,
          });
        }
        throw error;
      }
    }
    default:
      throw invalid(spec, `unknown source "${kind}"`);
  }
}

/** A one-line summary of what was skipped, or undefined when nothing was. */
export function skippedSummary(skipped: readonly SkippedImage[]): string | undefined {
  if (skipped.length === 0) return undefined;
  const first = skipped[0];
  return `skipped ${skipped.length} unreadable image${skipped.length === 1 ? "" : "s"} ` +
    `(first: ${first.path}: ${first.reason})`;
}

/**
 * Why the k-NN cannot be run on `data` (what follows its name in a message), or undefined when it
 * can: it needs labels and a test split.
 */
export function knnGap(data: LoadedData): string | undefined {
  if (!data.labelled) {
    return "has no labels (a flat folder, a list without labels or shards without .cls members)";
  }
  if (data.test.length > 0) return undefined;
  return data.name.startsWith("tar:")
    ? 'has no test split (tar shards are not split: name the test shards after a "|", ' +
      "tar:PATTERN|TEST_PATTERN)"
    : "has no test split";
}

/**
 * Loads `--eval-data SPEC`, the labelled set a training run's k-NN evaluations use instead of its
 * training data: the memory bank is its train split, the queries its test split. Throws
 * `DataSpecError` (naming `--eval-data` and what it was given) for a bad spec, a set without
 * labels or one without a test split.
 */
export async function loadEvalDataSpec(
  spec: string,
  options: DataSpecOptions = {},
): Promise<LoadedData> {
  const flag = options.flag ?? "--eval-data";
  const data = await loadDataSpec(spec, { ...options, flag });
  const gap = knnGap(data);
  if (gap) {
    const hint = data.labelled ? "" : "; give a labelled set: folder:DIR of class subfolders, " +
      "list:FILE with a label on each line, tar:PATTERN|TEST_PATTERN of shards with .cls " +
      "members, or a built-in set (synthetic, textures, fashion-mnist, mnist:DIR)";
    throw new DataSpecError(`${flag} ${data.name} ${gap}${hint}`);
  }
  return data;
}
