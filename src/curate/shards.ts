/**
 * Splitting curation over processes or machines: shard I of N takes a contiguous range of rows
 * (`shardRange`; I and N from flags or, unchanged in a Kubernetes Indexed Job, from
 * `JOB_COMPLETION_INDEX` and `DINOGPU_SHARD_COUNT`), `curate embed` writes it as the embedding
 * folder `OUT/part-0000I`, and `mergeEmbeddingParts` joins the parts into `OUT/index.json` +
 * `OUT/names.txt` whose shards are the parts' files (nothing copied).
 * @module
 */
import { CurateError, type EmbeddingIndex, readEmbeddingIndex } from "./embeddings.ts";

/** Rows [start, end) of shard `index` of `count` over `rows` rows (contiguous, sizes within 1). */
export function shardRange(rows: number, index: number, count: number): [number, number] {
  if (
    !Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count
  ) {
    throw new CurateError(`shard index ${index} of ${count}: need 0 <= index < count`);
  }
  return [Math.floor(index * rows / count), Math.floor((index + 1) * rows / count)];
}

/**
 * The shard of this process: the flags when given, else `JOB_COMPLETION_INDEX` (a Kubernetes
 * Indexed Job) with `DINOGPU_SHARD_COUNT`; undefined when neither names a count.
 */
export function shardFromEnvironment(
  flags: { index?: number; count?: number },
  environment: { get(name: string): string | undefined } = Deno.env,
): { index: number; count: number } | undefined {
  const fromText = (text: string | undefined, name: string) => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === "" || !Number.isInteger(value) || value < 0) {
      throw new CurateError(`${name} must be a whole number >= 0, got ${JSON.stringify(text)}`);
    }
    return value;
  };
  const count = flags.count ??
    fromText(environment.get("DINOGPU_SHARD_COUNT"), "DINOGPU_SHARD_COUNT");
  if (count === undefined) {
    if (flags.index !== undefined) throw new CurateError("--shard-index needs --shard-count");
    return undefined;
  }
  const index = flags.index ??
    fromText(environment.get("JOB_COMPLETION_INDEX"), "JOB_COMPLETION_INDEX") ?? 0;
  shardRange(0, index, count);
  return { index, count };
}

/** The folder of part `index` inside `dir`. */
export function partFolder(dir: string, index: number): string {
  return `${dir.replace(/\/+$/, "")}/part-${String(index).padStart(5, "0")}`;
}

/**
 * Joins the complete parts `dir/part-*` (all of one count, model and source) into `dir/index.json`
 * and `dir/names.txt`; a missing or unfinished part, or parts of other runs, are named.
 */
export async function mergeEmbeddingParts(dir: string): Promise<EmbeddingIndex> {
  const parts: { folder: string; index: EmbeddingIndex }[] = [];
  const first = await readEmbeddingIndex(partFolder(dir, 0)).catch(() => undefined);
  if (!first || !first.part) {
    throw new CurateError(
      `${partFolder(dir, 0)}: no embedding part (run \`curate embed --shard-index\`)`,
    );
  }
  const { count } = first.part;
  for (let part = 0; part < count; part++) {
    const folder = partFolder(dir, part);
    const index = await readEmbeddingIndex(folder).catch(() => undefined);
    if (!index) throw new CurateError(`${folder}: missing part ${part} of ${count}`);
    const written = index.shards.reduce((sum, shard) => sum + shard.rows, 0);
    if (written !== index.rows) {
      throw new CurateError(
        `${folder}: ${written} of ${index.rows} rows embedded; resume that part`,
      );
    }
    if (
      index.part?.count !== count || index.model !== first.model || index.source !== first.source
    ) {
      throw new CurateError(
        `${folder}: part of another run (${index.model}, ${index.source}, ${index.part?.count} parts) ` +
          `than ${partFolder(dir, 0)} (${first.model}, ${first.source}, ${count} parts)`,
      );
    }
    if (index.dim !== first.dim) {
      throw new CurateError(`${folder}: width ${index.dim}, ${partFolder(dir, 0)} ${first.dim}`);
    }
    parts.push({ folder, index });
  }
  const names: string[] = [];
  for (const { folder, index } of parts) {
    const text = await Deno.readTextFile(`${folder}/names.txt`);
    names.push(...text.split("\n").slice(0, index.rows));
  }
  const merged: EmbeddingIndex = {
    format: "dinogpu-embeddings",
    version: 1,
    dim: first.dim,
    rows: names.length,
    shardRows: first.shardRows,
    model: first.model,
    source: first.source,
    shards: parts.flatMap(({ folder, index }) =>
      index.shards.map((shard) => ({
        file: `${folder.slice(folder.lastIndexOf("/") + 1)}/${shard.file}`,
        rows: shard.rows,
      }))
    ),
  };
  const root = dir.replace(/\/+$/, "");
  await Deno.writeTextFile(`${root}/names.txt`, names.join("\n") + "\n");
  await Deno.writeTextFile(`${root}/index.json`, JSON.stringify(merged, null, 1));
  return merged;
}
