/**
 * `dinogpu curate retrieve`: for each image of a query set, its k nearest images of a pool
 * (DINOv2: k = 4, or 32 for small query sets); writes the union as `retrieved.txt` (pool names,
 * in pool order) and `neighbours.json` (per query: its name and its neighbours' names and
 * similarities).
 * @module
 */
import { Command } from "commander";
import { retrieve, type RetrieveResult } from "../../src/curate/retrieve.ts";
import { MAX_KNN_K } from "../../src/eval/knn.ts";
import { UserError } from "../run.ts";
import { featureFlags } from "../features.ts";
import { wholeFlag } from "../shared.ts";
import { OutputFolder } from "../output_files.ts";
import {
  addSourceOptions,
  otherEmbeddings,
  type SourceFlags,
  withSourceEmbeddings,
} from "./curate_shared.ts";

/** The flags of `curate retrieve`. */
export interface CurateRetrieveFlags extends SourceFlags {
  /** Pool embedding folder (else --data is embedded now). */
  embeddings?: string;
  /** Query set: an embedding folder or a data spec. */
  queries: string;
  /** Split of a query data spec. */
  queriesSplit: string;
  /** Neighbours per query. */
  k: string;
  /** Output folder. */
  out: string;
}

/** Runs `curate retrieve`; returns the result, the pool names and the files written. */
export async function curateRetrieve(
  flags: CurateRetrieveFlags,
): Promise<{ result: RetrieveResult; names: string[]; written: string[] }> {
  const k = wholeFlag(flags.k, "--k", 1, MAX_KNN_K);
  featureFlags(flags); // refuses a malformed feature flag before the GPU starts
  return await withSourceEmbeddings(flags, "curate retrieve", async (pool, getModel) => {
    const queries = await otherEmbeddings(
      flags,
      {
        flag: "--queries",
        spec: flags.queries,
        splitFlag: "--queries-split",
        split: flags.queriesSplit,
        what: "curate retrieve",
      },
      getModel,
      pool.dim,
      "the pool",
    );
    if (queries.names.length === 0) throw new UserError(`--queries ${flags.queries}: empty`);
    const result = await retrieve(pool, queries, { k });
    const out = new OutputFolder(flags.out);
    const lines = Array.from(result.rows, (row) => pool.names[row]).join("\n") + "\n";
    await out.write("retrieved.txt", new TextEncoder().encode(lines));
    const perQuery = queries.names.map((name, q) =>
      "  " + JSON.stringify({
        query: name,
        neighbours: Array.from({ length: k }, (_, j) => q * k + j)
          .filter((at) => result.neighbours.indices[at] >= 0)
          .map((at) => ({
            name: pool.names[result.neighbours.indices[at]],
            similarity: Number(result.neighbours.similarities[at].toFixed(5)),
          })),
      })
    );
    await out.write(
      "neighbours.json",
      new TextEncoder().encode(`[\n${perQuery.join(",\n")}\n]\n`),
    );
    return { result, names: pool.names, written: out.written };
  });
}

/** The `curate retrieve` command. */
export function curateRetrieveCommand(): Command {
  return addSourceOptions(
    new Command("retrieve")
      .description("the k nearest pool images of every query image, their union as a list")
      .option("--embeddings <dir>", "the pool as a `curate embed` folder (else --data)")
      .requiredOption("--queries <spec|dir>", "query images: a data spec or an embedding folder")
      .option("--queries-split <split>", "split of a --queries data spec", "test")
      .option("--k <n>", "neighbours per query (DINOv2: 4; 32 for small query sets)", "4")
      .requiredOption("--out <dir>", "writes retrieved.txt and neighbours.json"),
    false,
  ).action(async (options) => {
    const flags = options as CurateRetrieveFlags;
    const { result, names, written } = await curateRetrieve(flags);
    const line = { pool: names.length, retrieved: result.rows.length, out: flags.out };
    if (flags.json) console.log(JSON.stringify(line));
    else {
      console.log(
        `curate retrieve: ${line.retrieved} of ${line.pool} pool images -> ${written.join(", ")}`,
      );
    }
  });
}
