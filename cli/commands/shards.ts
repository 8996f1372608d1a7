/**
 * `dinogpu shards`: writes WebDataset tar shards (`KEY.jpg` + `KEY.cls`) from an image folder or
 * list, the images' bytes as they are, for `--data tar:PATTERN`.
 * @module
 */
import { Command } from "commander";
import {
  type ImageIndex,
  ImageSourceError,
  indexImageFolder,
  indexImageList,
} from "../../src/data/stream/image_index.ts";
import { writeTarShards } from "../../src/data/stream/tar_writer.ts";
import { UserError } from "../run.ts";
import { wholeOption } from "../shared.ts";

/** Indexes `folder:DIR` or `list:FILE` as a whole (no split). */
async function indexSource(spec: string): Promise<ImageIndex> {
  const colon = spec.indexOf(":");
  const kind = spec.slice(0, colon);
  const argument = spec.slice(colon + 1);
  if (colon < 0 || !argument || (kind !== "folder" && kind !== "list")) {
    throw new UserError(
      `shards: the source must be folder:DIR or list:FILE, got ${JSON.stringify(spec)}`,
    );
  }
  try {
    return kind === "folder"
      ? await indexImageFolder(argument.replace(/\/+$/, ""))
      : await indexImageList(argument);
  } catch (error) {
    if (error instanceof ImageSourceError) throw new UserError(`shards: ${error.message}`);
    throw error;
  }
}

/** The `shards` command. */
export function shardsCommand() {
  return new Command("shards")
    .description("write WebDataset tar shards from folder:DIR or list:FILE (for --data tar:...)")
    .argument("<source>", "folder:DIR (class subfolders give .cls labels) or list:FILE")
    .argument("<pattern>", "output shard names with %06d for the shard number: out/train-%06d.tar")
    .option("--per-shard <n>", "images per shard", wholeOption("--per-shard"), 1000)
    .option(
      "--seed <n>",
      "shuffle the images with this seed before writing (default: keep the order)",
      wholeOption("--seed", 0),
    )
    .action(
      async (source: string, pattern: string, options: { perShard: number; seed?: number }) => {
        if (!/%(0\d+)?d/.test(pattern)) {
          throw new UserError(
            `shards: the pattern needs %d or %06d for the shard number, got ${pattern}`,
          );
        }
        let index = await indexSource(source);
        if (options.seed !== undefined) index = shuffled(index, options.seed);
        const slash = pattern.lastIndexOf("/");
        if (slash > 0) await Deno.mkdir(pattern.slice(0, slash), { recursive: true });
        const { shards, skipped } = await writeTarShards(index, pattern, {
          perShard: options.perShard,
          onShard: (path, images) => console.error(`wrote ${path} (${images} images)`),
        });
        for (const skip of skipped) console.error(`skipped ${skip.path}: ${skip.reason}`);
        const last = shards.length - 1;
        const width = /%0(\d+)d/.exec(pattern)?.[1];
        const range = width
          ? `{${"0".padStart(Number(width), "0")}..${String(last).padStart(Number(width), "0")}}`
          : `{0..${last}}`;
        console.log(
          `${shards.length} shards, ${index.paths.length - skipped.length} images: --data tar:${
            pattern.replace(/%(0\d+)?d/, range)
          }`,
        );
      },
    );
}

/** The index in a seeded random order (shards then mix classes, as training wants). */
function shuffled(index: ImageIndex, seed: number): ImageIndex {
  const order = Array.from(index.paths, (_, i) => i);
  let state = seed >>> 0 || 1;
  for (let i = order.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const j = state % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return {
    paths: order.map((i) => index.paths[i]),
    labels: index.labels ? Int32Array.from(order, (i) => index.labels![i]) : undefined,
    classNames: index.classNames,
  };
}
