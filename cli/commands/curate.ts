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
}

/**
 * Embeds `--data` / `--split` into the folder `--out` shard by shard, resuming an interrupted run
 * of the same flags; returns the rows and the width.
 */
export async function curateEmbed(flags: CurateEmbedFlags): Promise<{ rows: number; dim: number }> {
  const shardRows = wholeFlag(flags.shardRows, "--shard-rows");
  const split = splitFlag(flags.split);
  const seed = wholeFlag(flags.seed, "--seed", 0);
  const { dataset, names } = splitRows(await loadCliData(flags.data, seed, "curate embed"), split);
  const model = await loadCurateModel(flags);
  const quiet = Boolean(flags.quiet || flags.json);
  let bar: ProgressBar | undefined;
  try {
    const index = await writeEmbeddings(flags.out, {
      names,
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
      .option("--shard-rows <n>", "rows per shard", "10000"),
  ).action(async (options) => {
    const started = performance.now();
    const { rows, dim } = await curateEmbed(options as CurateEmbedFlags);
    const seconds = (performance.now() - started) / 1000;
    const line = { rows, dim, out: options.out, seconds: Number(seconds.toFixed(2)) };
    if (options.json) console.log(JSON.stringify(line));
    else console.log(`curate embed: ${rows} x ${dim} -> ${options.out} (${line.seconds} s)`);
  });
  return new Command("curate")
    .description(
      "data curation (DINOv2): embed, near-duplicate removal, clustering and sampling, retrieval",
    )
    .addCommand(embed)
    .addCommand(curateDedupCommand())
    .addCommand(curateClusterCommand())
    .addCommand(curateRetrieveCommand());
}
