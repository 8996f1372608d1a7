/**
 * Embedding folders, the currency of curation: L2-normalised float32 features in shards
 * (`DIR/embeddings-00000.npy`, [rows, dim] each), `DIR/names.txt` (one image name per row) and
 * `DIR/index.json` (width, model, source, the shards done), rewritten whole after each shard so
 * an interrupted `writeEmbeddings` resumes at the first shard it had not finished.
 * @module
 */
import { readNpy, writeNpy } from "../io/npy.ts";
import { normalizeRows } from "./knn_search.ts";

/** A problem with an embedding folder (missing or mismatched shard, other run): names the file. */
export class CurateError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "CurateError";
  }
}

/** `DIR/index.json` of an embedding folder. */
export interface EmbeddingIndex {
  /** Always "dinogpu-embeddings". */
  format: "dinogpu-embeddings";
  /** Format version (1). */
  version: 1;
  /** Values per row. */
  dim: number;
  /** Rows of the whole source. */
  rows: number;
  /** Rows per shard (the last holds the rest). */
  shardRows: number;
  /** What embedded the rows: the weights path (and feature kind), or "pixels". */
  model: string;
  /** The rows' source: data spec and split. */
  source: string;
  /** The shards written so far, in row order (paths relative to the folder). */
  shards: { file: string; rows: number }[];
  /** For one part of a sharded run: which, of how many, and its rows of the whole source. */
  part?: { index: number; count: number; start: number; end: number };
}

/** Embeddings read back whole. */
export interface Embeddings {
  /** Row-major L2-normalised rows [rows, dim]. */
  data: Float32Array;
  /** Values per row. */
  dim: number;
  /** One name per row (a path, or `split/index` for data without files). */
  names: string[];
  /** The folder's index. */
  index: EmbeddingIndex;
}

/** Options of `writeEmbeddings`. */
export interface WriteEmbeddingsOptions {
  /** One name per row. */
  names: readonly string[];
  /** Rows per shard (default 10,000). */
  shardRows?: number;
  /** What embeds the rows (checked on resume). */
  model: string;
  /** Where the rows come from (checked on resume). */
  source: string;
  /** Features of rows [start, end) with their width (normalised here). */
  featuresOf: (start: number, end: number) => Promise<{ data: Float32Array; dim: number }>;
  /** Called after each shard with the rows done (resumed ones included) and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Recorded in the index when the rows are one part of a sharded run. */
  part?: EmbeddingIndex["part"];
}

const INDEX = "index.json";
const NAMES = "names.txt";

function shardName(shard: number): string {
  return `embeddings-${String(shard).padStart(5, "0")}.npy`;
}

function join(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, "")}/${name}`;
}

async function writeWhole(path: string, bytes: Uint8Array): Promise<void> {
  const temporary = `${path}.partial-${Deno.pid}`;
  await Deno.writeFile(temporary, bytes);
  await Deno.rename(temporary, path);
}

/** Reads `dir/index.json`; a missing or foreign file is a `CurateError` naming it. */
export async function readEmbeddingIndex(dir: string): Promise<EmbeddingIndex> {
  const index = await readIndexIfAny(dir);
  if (!index) {
    throw new CurateError(`${join(dir, INDEX)}: no such file (not an embedding folder?)`);
  }
  return index;
}

async function readIndexIfAny(dir: string): Promise<EmbeddingIndex | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, INDEX));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  let index: EmbeddingIndex;
  try {
    index = JSON.parse(text);
  } catch (error) {
    throw new CurateError(`${join(dir, INDEX)}: not JSON (${(error as Error).message})`);
  }
  if (index.format !== "dinogpu-embeddings" || !Array.isArray(index.shards)) {
    throw new CurateError(`${join(dir, INDEX)}: not a dinogpu embedding index`);
  }
  return index;
}

/**
 * Embeds every row into `dir` shard by shard (creating it), resuming after the shards an earlier
 * run of the same model and source finished; refuses a folder of another model, source or size.
 */
export async function writeEmbeddings(
  dir: string,
  options: WriteEmbeddingsOptions,
): Promise<EmbeddingIndex> {
  const { names, model, source } = options;
  const shardRows = options.shardRows ?? 10_000;
  if (!Number.isInteger(shardRows) || shardRows < 1) {
    throw new CurateError(`shard rows must be a whole number >= 1, got ${shardRows}`);
  }
  const rows = names.length;
  await Deno.mkdir(dir, { recursive: true });
  let index = await readIndexIfAny(dir);
  if (index) {
    const checks: [string, unknown, unknown][] = [
      ["model", index.model, model],
      ["source", index.source, source],
      ["rows", index.rows, rows],
      ["shard rows", index.shardRows, shardRows],
      ["part", JSON.stringify(index.part), JSON.stringify(options.part)],
    ];
    for (const [what, theirs, mine] of checks) {
      if (theirs !== mine) {
        throw new CurateError(
          `${join(dir, INDEX)} was written for ${what} ${JSON.stringify(theirs)}, this run ` +
            `has ${JSON.stringify(mine)}: use another folder or delete it`,
        );
      }
    }
  } else {
    await writeWhole(join(dir, NAMES), new TextEncoder().encode(names.join("\n") + "\n"));
  }
  const done = index?.shards.length ?? 0;
  let dim = index?.dim ?? 0;
  const shards = [...(index?.shards ?? [])];
  const count = Math.ceil(rows / shardRows);
  options.onProgress?.(Math.min(rows, done * shardRows), rows);
  for (let shard = done; shard < count; shard++) {
    const start = shard * shardRows;
    const end = Math.min(rows, start + shardRows);
    const features = await options.featuresOf(start, end);
    if (features.data.length !== (end - start) * features.dim) {
      throw new CurateError(
        `rows ${start}..${end}: ${features.data.length} values are not ${end - start} rows of ` +
          `${features.dim}`,
      );
    }
    if (dim !== 0 && features.dim !== dim) {
      throw new CurateError(
        `rows ${start}..${end} have width ${features.dim}, earlier shards in ${dir} ${dim}`,
      );
    }
    dim = features.dim;
    normalizeRows(features.data, dim);
    const file = shardName(shard);
    await writeWhole(join(dir, file), writeNpy(features.data, [end - start, dim]));
    shards.push({ file, rows: end - start });
    index = {
      format: "dinogpu-embeddings",
      version: 1,
      dim,
      rows,
      shardRows,
      model,
      source,
      shards,
      ...(options.part ? { part: options.part } : {}),
    };
    await writeWhole(join(dir, INDEX), new TextEncoder().encode(JSON.stringify(index, null, 1)));
    options.onProgress?.(end, rows);
  }
  return index!;
}

/**
 * Reads an embedding folder whole: every shard must be there, with the index's width and rows,
 * and the folder complete (else the error says to run `curate embed` again to resume).
 */
export async function readEmbeddings(dir: string): Promise<Embeddings> {
  const index = await readEmbeddingIndex(dir);
  const written = index.shards.reduce((sum, shard) => sum + shard.rows, 0);
  if (written !== index.rows) {
    throw new CurateError(
      `${dir}: ${written} of ${index.rows} rows embedded (${index.shards.length} shards); run ` +
        "`curate embed` again with the same flags to resume",
    );
  }
  const data = new Float32Array(index.rows * index.dim);
  let at = 0;
  for (const shard of index.shards) {
    const path = join(dir, shard.file);
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch {
      throw new CurateError(`${path}: missing shard (listed in ${join(dir, INDEX)})`);
    }
    let array: { shape: number[]; data: Float32Array };
    try {
      array = readNpy(bytes);
    } catch (error) {
      throw new CurateError(`${path}: ${(error as Error).message}`);
    }
    const [shardRows, shardDim] = array.shape;
    if (array.shape.length !== 2 || shardRows !== shard.rows || shardDim !== index.dim) {
      throw new CurateError(
        `${path}: shape (${array.shape.join(", ")}), the index says (${shard.rows}, ${index.dim})`,
      );
    }
    data.set(array.data, at);
    at += array.data.length;
  }
  let names: string[];
  try {
    names = (await Deno.readTextFile(join(dir, NAMES))).split("\n").slice(0, index.rows);
  } catch {
    throw new CurateError(`${join(dir, NAMES)}: missing (the names of ${index.rows} rows)`);
  }
  if (names.length !== index.rows) {
    throw new CurateError(`${join(dir, NAMES)}: ${names.length} names for ${index.rows} rows`);
  }
  return { data, dim: index.dim, names, index };
}
