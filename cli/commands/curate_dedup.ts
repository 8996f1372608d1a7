/**
 * `dinogpu curate dedup`: near-duplicate removal (DINOv2 appendix A) on an embedding folder or on
 * `--data` embedded now: k-NN edges above `--threshold`, union-find components, the first row of
 * each kept; `--against` drops components touching a reference set. Writes `kept.txt`,
 * `groups.json` and, when the images are at hand, `groups.png`.
 * @module
 */
import { Command } from "commander";
import { contactSheet } from "../../src/curate/contact_sheet.ts";
import { dedup, type DedupResult } from "../../src/curate/dedup.ts";
import { MAX_KNN_K } from "../../src/eval/knn.ts";
import { encodePng } from "../../src/io/image.ts";
import { featureFlags } from "../features.ts";
import { numberFlag, wholeFlag } from "../shared.ts";
import { OutputFolder } from "../output_files.ts";
import {
  addSourceOptions,
  otherEmbeddings,
  type SourceFlags,
  withSourceEmbeddings,
} from "./curate_shared.ts";

/** The flags of `curate dedup`. */
export interface CurateDedupFlags extends SourceFlags {
  /** Embedding folder (else --data is embedded now). */
  embeddings?: string;
  /** Output folder. */
  out: string;
  /** Neighbours per row. */
  k: string;
  /** Edge threshold. */
  threshold: string;
  /** Reference set: an embedding folder or a data spec. */
  against?: string;
  /** Split of a reference data spec. */
  againstSplit: string;
  /** Decontamination threshold. */
  againstThreshold: string;
  /** Groups drawn in groups.png. */
  sheetGroups: string;
}

/** Runs `curate dedup`; returns the result with the rows' names and the files written. */
export async function curateDedup(
  flags: CurateDedupFlags,
): Promise<{ result: DedupResult; names: string[]; written: string[] }> {
  const k = wholeFlag(flags.k, "--k", 2, MAX_KNN_K);
  const threshold = numberFlag(flags.threshold, "--threshold");
  const againstThreshold = numberFlag(flags.againstThreshold, "--against-threshold");
  const sheetGroups = wholeFlag(flags.sheetGroups, "--sheet-groups", 0);
  const { quiet } = featureFlags(flags);
  return await withSourceEmbeddings(flags, "curate dedup", async (source, getModel) => {
    const against = flags.against === undefined ? undefined : await otherEmbeddings(
      flags,
      {
        flag: "--against",
        spec: flags.against,
        splitFlag: "--against-split",
        split: flags.againstSplit,
        what: "curate dedup",
      },
      getModel,
      source.dim,
      "the rows to deduplicate",
    );
    const result = await dedup(source, {
      k,
      threshold,
      against,
      againstThreshold,
      onProgress: quiet ? undefined : (stage, done, total) => {
        if (done === total) console.error(`curate dedup: ${stage} ${done}/${total}`);
      },
    });
    const out = new OutputFolder(flags.out);
    const keptNames = Array.from(result.kept, (row) => source.names[row]);
    await out.write("kept.txt", new TextEncoder().encode(keptNames.join("\n") + "\n"));
    const report = {
      rows: source.names.length,
      kept: result.kept.length,
      removed: result.removed.length,
      k,
      threshold,
      against: flags.against ?? null,
      against_threshold: flags.against === undefined ? null : againstThreshold,
      edges: result.edges,
      groups: result.groups.map((group) => ({
        contaminated: group.contaminated,
        members: group.members.map((row, i) => ({
          name: source.names[row],
          row,
          similarity: Number(group.similarities[i].toFixed(5)),
        })),
      })),
    };
    // one group per line: readable and diffable at 60,000 rows
    const { groups, ...head } = report;
    const text = JSON.stringify(head, null, 1).replace(/\n}$/, ',\n "groups": [\n') +
      groups.map((group) => "  " + JSON.stringify(group)).join(",\n") + "\n ]\n}\n";
    await out.write("groups.json", new TextEncoder().encode(text));
    if (source.dataset && sheetGroups > 0 && result.groups.length > 0) {
      const lines = result.groups.slice(0, sheetGroups).map((group) => group.members);
      const sheet = await contactSheet(lines, (row) => source.dataset!.get(row));
      await out.write("groups.png", encodePng(sheet.pixels, sheet.width, sheet.height));
    }
    return { result, names: source.names, written: out.written };
  });
}

/** The `curate dedup` command. */
export function curateDedupCommand(): Command {
  return addSourceOptions(
    new Command("dedup")
      .description("remove near-duplicates: k-NN edges above a threshold, one image per component")
      .option("--embeddings <dir>", "a `curate embed` folder (else --data is embedded now)")
      .requiredOption("--out <dir>", "writes kept.txt, groups.json, groups.png")
      .option("--k <n>", "neighbours per image, itself included (DINOv2: 64)", "64")
      .option("--threshold <cosine>", "edge above this similarity (DINOv2: 0.6)", "0.6")
      .option("--against <spec|dir>", "drop components touching this set (data spec or folder)")
      .option("--against-split <split>", "split of an --against data spec", "test")
      .option("--against-threshold <cosine>", "touching above this similarity", "0.45")
      .option("--sheet-groups <n>", "largest groups drawn in groups.png", "16"),
    false,
  ).action(async (options) => {
    const { result, names, written } = await curateDedup(options as CurateDedupFlags);
    const contaminated = result.groups.filter((group) => group.contaminated).length;
    const line = {
      rows: names.length,
      kept: result.kept.length,
      removed: result.removed.length,
      groups: result.groups.length,
      contaminated_groups: contaminated,
      out: options.out,
    };
    if (options.json) console.log(JSON.stringify(line));
    else {
      console.log(
        `curate dedup: ${line.rows} rows, ${line.groups} groups (${contaminated} touching ` +
          `--against), removed ${line.removed}, kept ${line.kept} -> ${written.join(", ")}`,
      );
    }
  });
}
