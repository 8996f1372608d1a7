/**
 * What the `curate` commands share: the source flags (`--data`, `--split`, `--weights`,
 * `--features`), the rows of a split with their names, the model, and embeddings computed in
 * memory or read from a `curate embed` folder.
 * @module
 */
import type { Command, OptionValues } from "commander";
import type { Dataset } from "../../src/data/dataset.ts";
import { type Embeddings, readEmbeddings } from "../../src/curate/embeddings.ts";
import { normalizeRows } from "../../src/curate/knn_search.ts";
import {
  batchFeatures,
  FEATURE_KINDS,
  type FeatureKind,
  type FeatureModel,
} from "../../src/eval/features.ts";
import { initGpu } from "../../src/gpu/device.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { UserError } from "../run.ts";
import {
  addFeatureOptions,
  featureFlags,
  type FeatureOptionValues,
  splitFeatures,
} from "../features.ts";
import { DATA_SPEC_HELP, loadCliData, loadCliModelOrPixels } from "../shared.ts";

/** Which rows of a data spec a command reads. */
export type SplitName = "train" | "test" | "all";

/** The flags of a command that embeds a data spec (as parsed by commander). */
export type SourceFlags = FeatureOptionValues & {
  /** Data spec. */
  data: string;
  /** Split of the spec. */
  split: string;
  /** Weights of the model, unless `features` is "pixels". */
  weights?: string;
  /** cls | mean | cls+mean | pixels. */
  features: string;
};

/**
 * Adds `--data`, `--split`, `--weights`, `--features` and the feature options to `command`. The
 * result's option types are declared (`SourceFlags`) rather than inferred through the chain: the
 * inferred union of the required and optional `--data` forms made TypeScript's checking of the
 * curate commands run for minutes when other test modules came first.
 */
export function addSourceOptions<
  Args extends unknown[],
  Opts extends OptionValues,
  Globals extends OptionValues,
>(
  command: Command<Args, Opts, Globals>,
  dataRequired = true,
): Command<Args, Opts & SourceFlags, Globals> {
  if (dataRequired) command.requiredOption("--data <spec>", DATA_SPEC_HELP);
  else command.option("--data <spec>", DATA_SPEC_HELP);
  command
    .option("--split <split>", "train | test | all (train, then test)", "train")
    .option("--weights <file>", "model weights (.safetensors, .pth, a Hugging Face folder)")
    .option("--features <kind>", "cls | mean | cls+mean (with --weights) | pixels", "cls");
  addFeatureOptions(command, "seed of generated data and of splits");
  return command as unknown as Command<Args, Opts & SourceFlags, Globals>;
}

/** The rows of `split` and their names (`train/12`, `test/3`). */
export function splitRows(
  data: { train: Dataset; test: Dataset },
  split: SplitName,
): { dataset: Dataset; names: string[] } {
  const named = (dataset: Dataset, prefix: string) =>
    Array.from({ length: dataset.length }, (_, i) => `${prefix}/${i}`);
  if (split !== "all") return { dataset: data[split], names: named(data[split], split) };
  const { train, test } = data;
  const dataset: Dataset = {
    length: train.length + test.length,
    classes: train.classes,
    classNames: train.classNames,
    height: train.height === test.height ? train.height : undefined,
    width: train.width === test.width ? train.width : undefined,
    channels: train.channels,
    get: (index) => index < train.length ? train.get(index) : test.get(index - train.length),
  };
  return { dataset, names: [...named(train, "train"), ...named(test, "test")] };
}

/** Parses `--split`. */
export function splitFlag(text: string, flag = "--split"): SplitName {
  if (text !== "train" && text !== "test" && text !== "all") {
    throw new UserError(`${flag} must be train, test or all, got ${text}`);
  }
  return text;
}

/** A loaded embedding model (none for pixels) and how to describe it. */
export interface CurateModel {
  /** The backbone, or none for raw pixels. */
  model?: FeatureModel;
  /** The feature kind (ignored for pixels). */
  kind: FeatureKind | "pixels";
  /** "pixels", or the weights and the kind: recorded in embedding folders. */
  description: string;
}

/** Loads the model `--weights` / `--features` ask for (refusing both or neither). */
export async function loadCurateModel(flags: SourceFlags): Promise<CurateModel> {
  const kind = flags.features;
  if (kind !== "pixels" && !(FEATURE_KINDS as readonly string[]).includes(kind)) {
    throw new UserError(
      `--features must be one of ${[...FEATURE_KINDS, "pixels"].join(", ")}, got ${kind}`,
    );
  }
  const { model } = await loadCliModelOrPixels(
    flags.weights,
    kind === "pixels",
    "--features pixels",
    featureFlags(flags).precision,
  );
  return {
    model,
    kind: kind as FeatureKind | "pixels",
    description: kind === "pixels" ? "pixels" : `${flags.weights} ${kind}`,
  };
}

/** L2-normalised features [rows, dim] of `dataset` (a progress bar unless quiet). */
export async function embedDataset(
  model: CurateModel,
  dataset: Dataset,
  label: string,
  flags: SourceFlags,
): Promise<{ data: Float32Array; dim: number }> {
  const { size, batchSize, quiet } = featureFlags(flags);
  const compute = (backbone: FeatureModel, images: Tensor) =>
    batchFeatures(backbone, images, model.kind === "pixels" ? "cls" : model.kind);
  const features = await splitFeatures(model.model, dataset, label, {
    size,
    batchSize,
    quiet,
    compute,
  });
  return { data: normalizeRows(features.features, features.dim), dim: features.dim };
}

/** Embeddings with the data set they came from, when it was loaded. */
export interface SourceEmbeddings extends Pick<Embeddings, "data" | "dim" | "names"> {
  /** The rows' images (absent for an embedding folder read without --data). */
  dataset?: Dataset;
  /** The model an embedding folder was written with (`CurateModel.description`). */
  model?: string;
}

/**
 * The flags that load the model an embedding folder recorded (`description`), when the command
 * names none itself (no --weights, --features at its default); refuses another model.
 */
export function flagsForModel(flags: SourceFlags, description: string | undefined): SourceFlags {
  if (description === undefined) return flags;
  if (flags.weights === undefined && flags.features === "cls") {
    if (description === "pixels") return { ...flags, features: "pixels" };
    const space = description.lastIndexOf(" ");
    return {
      ...flags,
      weights: description.slice(0, space),
      features: description.slice(space + 1),
    };
  }
  const mine = flags.features === "pixels" ? "pixels" : `${flags.weights} ${flags.features}`;
  if (mine !== description) {
    throw new UserError(
      `the embeddings were made with "${description}", this command asks for "${mine}": ` +
        "embed both sets with the same model (or leave --weights and --features out)",
    );
  }
  return flags;
}

/**
 * The embeddings a command works on: the folder `embeddings` when given (with --data, checked
 * to have its rows, for pictures), else `--data` / `--split` embedded now with `model`.
 */
export async function sourceEmbeddings(
  flags: SourceFlags & { data?: string },
  embeddings: string | undefined,
  model: () => Promise<CurateModel>,
  what: string,
): Promise<SourceEmbeddings> {
  const { seed } = featureFlags(flags);
  const split = splitFlag(flags.split);
  const loaded = flags.data === undefined
    ? undefined
    : splitRows(await loadCliData(flags.data, seed, what), split);
  if (embeddings !== undefined) {
    const read = await readEmbeddings(embeddings);
    if (loaded && loaded.dataset.length !== read.names.length) {
      throw new UserError(
        `${embeddings} holds ${read.names.length} rows, --data ${flags.data} --split ${split} ` +
          `${loaded.dataset.length}`,
      );
    }
    return { ...read, dataset: loaded?.dataset, model: read.index.model };
  }
  if (!loaded) throw new UserError(`${what}: give --embeddings DIR or --data SPEC`);
  const features = await embedDataset(await model(), loaded.dataset, `${what} ${split}`, flags);
  return { ...features, names: loaded.names, dataset: loaded.dataset };
}

async function isEmbeddingFolder(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(`${path}/index.json`)).isFile;
  } catch {
    return false;
  }
}

/** Where a command's second set of rows comes from (dedup's --against, retrieve's --queries). */
export interface OtherRows {
  /** The flag naming the set, such as "--against"; its name without dashes labels the progress. */
  flag: string;
  /** Its value: an embedding folder or a data spec. */
  spec: string;
  /** The flag of the data spec's split, such as "--against-split", and its value. */
  splitFlag: string;
  split: string;
  /** The command, for data-loading messages ("curate dedup"). */
  what: string;
}

/**
 * A second set of rows a command sets beside its own (`width` wide, `whose` in messages): the
 * embedding folder `rows.spec`, or the split of the data spec `rows.spec` embedded now with
 * `model`. Refuses an empty split and another width than `width`.
 */
export async function otherEmbeddings(
  flags: SourceFlags,
  rows: OtherRows,
  model: () => Promise<CurateModel>,
  width: number,
  whose: string,
): Promise<{ data: Float32Array; dim: number; names: string[] }> {
  let other: { data: Float32Array; dim: number; names: string[] };
  if (await isEmbeddingFolder(rows.spec)) {
    other = await readEmbeddings(rows.spec);
  } else {
    const data = await loadCliData(
      rows.spec,
      featureFlags(flags).seed,
      `${rows.what} ${rows.flag}`,
    );
    const split = splitRows(data, splitFlag(rows.split, rows.splitFlag));
    if (split.dataset.length === 0) {
      throw new UserError(`${rows.flag} ${rows.spec} ${rows.splitFlag} ${rows.split}: no rows`);
    }
    const label = rows.flag.replace(/^--/, "");
    const features = await embedDataset(await model(), split.dataset, label, flags);
    other = { ...features, names: split.names };
  }
  if (other.dim !== width) {
    throw new UserError(
      `${rows.flag} ${rows.spec} has width ${other.dim}, ${whose} ${width} (embed both with the ` +
        "same model)",
    );
  }
  return other;
}

/**
 * Starts the GPU and runs `body` on a command's own rows (`sourceEmbeddings` of --embeddings or
 * --data, named `what` in messages) with `model`, a getter of the model for more rows: loaded on
 * first use (for an embedding folder, the model it recorded unless the command names one:
 * `flagsForModel`) and disposed when `body` ends.
 */
export async function withSourceEmbeddings<T>(
  flags: SourceFlags & { data?: string; embeddings?: string },
  what: string,
  body: (source: SourceEmbeddings, model: () => Promise<CurateModel>) => Promise<T>,
): Promise<T> {
  await initGpu();
  let model: CurateModel | undefined;
  let recorded: string | undefined;
  const getModel = async () => model ??= await loadCurateModel(flagsForModel(flags, recorded));
  try {
    const source = await sourceEmbeddings(flags, flags.embeddings, getModel, what);
    recorded = source.model;
    return await body(source, getModel);
  } finally {
    model?.model?.dispose();
  }
}
