/**
 * `dinogpu curate`: data curation as DINOv2 builds its data (appendix A). `curate embed` writes a
 * split's L2-normalised features as a resumable embedding folder; `curate dedup` removes
 * near-duplicates (curate_dedup.ts); `curate cluster` runs hierarchical k-means and balanced
 * sampling (curate_cluster.ts); `curate retrieve` the nearest pool images of a query set
 * (curate_retrieve.ts).
 * @module
 */
import { Command } from "commander";
import { writeEmbeddings } from "../../src/curate/embeddings.ts";
import {
  mergeEmbeddingParts,
  partFolder,
  shardFromEnvironment,
  shardRange,
} from "../../src/curate/shards.ts";
import { subset } from "../../src/data/dataset.ts";
import { ProgressBar } from "../progress.ts";
import { wholeFlag } from "../shared.ts";
import { curateClusterCommand } from "./curate_cluster.ts";
import { curateDedupCommand } from "./curate_dedup.ts";
import { curateRetrieveCommand } from "./curate_retrieve.ts";
import {
  addSourceOptions,
  embedDataset,
  loadCurateModel,
  type SourceFlags,
  splitFlag,
  splitRows,
} from "./curate_shared.ts";
import { loadCliData } from "../shared.ts";

/** Options of `curateEmbed` (the flags of `curate embed`). */
export interface CurateEmbedFlags extends SourceFlags {
  /** Output folder. */
  out: string;
  /** Rows per shard. */
  shardRows: string;
  /** This process's part of a sharded run. */
  shardIndex?: string;
  /** Parts of a sharded run. */
  shardCount?: string;
}

/**
 * Embeds `--data` / `--split` into the folder `--out` shard by shard, resuming an interrupted run
 * of the same flags; with a shard (`--shard-index/--shard-count`, or `JOB_COMPLETION_INDEX` and
 * `DINOGPU_SHARD_COUNT`) only its rows, into `--out/part-0000I`. Returns the rows and the width.
 */
export async function curateEmbed(flags: CurateEmbedFlags): Promise<{ rows: number; dim: number }> {
  const shardRows = wholeFlag(flags.shardRows, "--shard-rows");
  const split = splitFlag(flags.split);
  const seed = wholeFlag(flags.seed, "--seed", 0);
  const shard = shardFromEnvironment({
    index: flags.shardIndex === undefined
      ? undefined
      : wholeFlag(flags.shardIndex, "--shard-index", 0),
    count: flags.shardCount === undefined
      ? undefined
      : wholeFlag(flags.shardCount, "--shard-count"),
  });
  const all = splitRows(await loadCliData(flags.data, seed, "curate embed"), split);
  const [start, end] = shard
    ? shardRange(all.names.length, shard.index, shard.count)
    : [0, all.names.length];
  const names = all.names.slice(start, end);
  const dataset = shard
    ? subset(all.dataset, Array.from({ length: end - start }, (_, i) => start + i))
    : all.dataset;
  const out = shard ? partFolder(flags.out, shard.index) : flags.out;
  const model = await loadCurateModel(flags);
  const quiet = Boolean(flags.quiet || flags.json);
  let bar: ProgressBar | undefined;
  try {
    const index = await writeEmbeddings(out, {
      names,
      part: shard && { ...shard, start, end },
      shardRows,
      model: model.description,
      source: `${flags.data} ${split} seed ${seed}`,
      featuresOf: (start, end) =>
        embedDataset(
          model,
          subset(dataset, Array.from({ length: end - start }, (_, i) => start + i)),
          "",
          { ...flags, quiet: true },
        ),
      onProgress: (done, total) => {
        bar ??= new ProgressBar({
          label: "embed",
          total,
          unit: "img",
          initial: done,
          silent: quiet,
        });
        bar.update(done);
      },
    });
    bar?.finish();
    return { rows: index.rows, dim: index.dim };
  } finally {
    model.model?.dispose();
  }
}

/** The `curate` command group. */
export function curateCommand(): Command {
  const embed = addSourceOptions(
    new Command("embed")
      .description("write a split's L2-normalised features as a resumable sharded folder")
      .requiredOption("--out <dir>", "embedding folder (shards .npy, names.txt, index.json)")
      .option("--shard-rows <n>", "rows per shard", "10000")
      .option(
        "--shard-index <i>",
        "this process's part (0-based; default JOB_COMPLETION_INDEX): writes OUT/part-0000I",
      )
      .option("--shard-count <n>", "parts of the run (default DINOGPU_SHARD_COUNT)"),
  ).action(async (options) => {
    const started = performance.now();
    const { rows, dim } = await curateEmbed(options as CurateEmbedFlags);
    const seconds = (performance.now() - started) / 1000;
    const line = { rows, dim, out: options.out, seconds: Number(seconds.toFixed(2)) };
    if (options.json) console.log(JSON.stringify(line));
    else console.log(`curate embed: ${rows} x ${dim} -> ${options.out} (${line.seconds} s)`);
  });
  const merge = new Command("merge")
    .description("join the parts of a sharded `curate embed` (DIR/part-*) into DIR")
    .argument("<dir>", "the --out of the sharded embed")
    .action(async (dir: string) => {
      const index = await mergeEmbeddingParts(dir);
      console.log(
        `curate merge: ${index.rows} x ${index.dim} from ${index.shards.length} ` +
          `shards -> ${dir}/index.json`,
      );
    });
  return new Command("curate")
    .description(
      "data curation (DINOv2): embed, near-duplicate removal, clustering and sampling, retrieval",
    )
    .addCommand(embed)
    .addCommand(merge)
    .addCommand(curateDedupCommand())
    .addCommand(curateClusterCommand())
    .addCommand(curateRetrieveCommand());
}
