/**
 * `dinogpu curate cluster`: hierarchical k-means on the GPU (each level clusters the centroids of
 * the level below, with optional resampling refinement) and balanced top-down sampling of
 * `--target` images. Writes `clusters.json` (per level: clusters, sizes, parents; the leaf of
 * every row) and `sampled.txt` (one name per line).
 * @module
 */
import { Command, Option } from "commander";
import {
  balancedSample,
  type ClusterTree,
  hierarchicalKmeans,
} from "../../src/curate/hierarchy.ts";
import { UserError } from "../run.ts";
import { featureFlags } from "../features.ts";
import { wholeFlag } from "../shared.ts";
import { OutputFolder } from "../output_files.ts";
import { addSourceOptions, type SourceFlags, withSourceEmbeddings } from "./curate_shared.ts";

/** The flags of `curate cluster`. */
export interface CurateClusterFlags extends SourceFlags {
  /** Embedding folder (else --data is embedded now). */
  embeddings?: string;
  /** Output folder. */
  out: string;
  /** Clusters per level, bottom first, comma separated. */
  levels: string;
  /** Lloyd iterations. */
  iterations: string;
  /** k-means init. */
  init: "kmeans++" | "random";
  /** Resampling steps per level. */
  resampleSteps: string;
  /** Points per cluster kept by a resampling step. */
  sampleSize: string;
  /** Images to sample (none: cluster only). */
  target?: string;
  /** How a leaf picks its images. */
  pick: "random" | "closest";
}

/** Runs `curate cluster`; returns the tree, the sampled rows and the files written. */
export async function curateCluster(
  flags: CurateClusterFlags,
): Promise<{ tree: ClusterTree; sampled?: Int32Array; names: string[]; written: string[] }> {
  const levels = flags.levels.split(",").map((part) => wholeFlag(part.trim(), "--levels"));
  const iterations = wholeFlag(flags.iterations, "--iterations", 0);
  const resampleSteps = wholeFlag(flags.resampleSteps, "--resample-steps", 0);
  const sampleSize = wholeFlag(flags.sampleSize, "--sample-size");
  const target = flags.target === undefined ? undefined : wholeFlag(flags.target, "--target");
  const { quiet, seed } = featureFlags(flags);
  return await withSourceEmbeddings(flags, "curate cluster", async (source) => {
    const rows = source.names.length;
    if (levels[0] > rows) {
      throw new UserError(`--levels ${flags.levels}: ${levels[0]} clusters for ${rows} images`);
    }
    const tree = await hierarchicalKmeans(source, {
      levels,
      iterations,
      init: flags.init,
      seed,
      resampleSteps,
      sampleSize,
      onLevel: quiet
        ? undefined
        : (level, inertia) =>
          console.error(`curate cluster: level ${level} (k ${levels[level]}) inertia ${inertia}`),
    });
    const out = new OutputFolder(flags.out);
    const report = {
      rows,
      levels: tree.levels.map((level) => ({
        k: level.k,
        sizes: Array.from(level.sizes),
        parent: Array.from(level.parent),
      })),
      leaf_of_row: Array.from(tree.leafOfRow),
    };
    const text = "{\n" + Object.entries(report).map(([key, value]) =>
      ` ${JSON.stringify(key)}: ` +
      (key === "levels"
        ? "[\n" + report.levels.map((level) => "  " + JSON.stringify(level)).join(",\n") + "\n ]"
        : JSON.stringify(value))
    ).join(",\n") + "\n}\n";
    await out.write("clusters.json", new TextEncoder().encode(text));
    let sampled: Int32Array | undefined;
    if (target !== undefined) {
      sampled = balancedSample(tree, target, { pick: flags.pick, seed });
      const lines = Array.from(sampled, (row) => source.names[row]).join("\n") + "\n";
      await out.write("sampled.txt", new TextEncoder().encode(lines));
    }
    return { tree, sampled, names: source.names, written: out.written };
  });
}

/** The `curate cluster` command. */
export function curateClusterCommand(): Command {
  return addSourceOptions(
    new Command("cluster")
      .description("hierarchical k-means (GPU) and balanced sampling of --target images")
      .option("--embeddings <dir>", "a `curate embed` folder (else --data is embedded now)")
      .requiredOption("--out <dir>", "writes clusters.json and, with --target, sampled.txt")
      .option("--levels <k,k,...>", "clusters per level, bottom first", "100,10")
      .option("--iterations <n>", "Lloyd iterations per k-means", "25")
      .addOption(
        new Option("--init <init>", "k-means init").choices(["kmeans++", "random"] as const)
          .default("kmeans++" as const),
      )
      .option("--resample-steps <n>", "resampling refinement steps per level", "0")
      .option("--sample-size <n>", "points per cluster a resampling step keeps", "10")
      .option("--target <n>", "images to sample, balanced over the tree")
      .addOption(
        new Option("--pick <how>", "how a leaf picks images").choices(
          ["random", "closest"] as const,
        ).default("random" as const),
      ),
    false,
  ).action(async (options) => {
    const flags = options as CurateClusterFlags;
    const { tree, sampled, names, written } = await curateCluster(flags);
    const line = {
      rows: names.length,
      levels: tree.levels.map((level) => level.k),
      sampled: sampled?.length ?? null,
      out: flags.out,
    };
    if (flags.json) console.log(JSON.stringify(line));
    else {
      console.log(
        `curate cluster: ${line.rows} rows, levels ${line.levels.join(",")}` +
          (sampled ? `, sampled ${sampled.length}` : "") + ` -> ${written.join(", ")}`,
      );
    }
  });
}
