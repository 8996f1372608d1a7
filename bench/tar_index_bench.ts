/**
 * How long `tar:` data takes to index before the first step: `indexTarShards` over 50 shards of
 * 1,000 labelled samples (`.jpg` + `.cls`, as `dinogpu shards` writes them), 50,000 images in all.
 * The index reads member headers only, so its time depends on the member count, not the image size;
 * the images here are 20 KiB of filler to keep the shards' layout realistic (~1 GiB written once
 * into a temporary folder, removed at the end).
 *
 * Run: `deno bench -A bench/tar_index_bench.ts`
 */
import { indexTarShards } from "../src/data/stream/tar_shards.ts";
import { writeTarShards } from "../src/data/stream/tar_writer.ts";

const SAMPLES = 50_000;
const root = await Deno.makeTempDir({ prefix: "dinogpu-tar-bench-" });
const image = new Uint8Array(20 * 1024).map((_, i) => (i * 31) & 255);
image.set([0xff, 0xd8, 0xff]); // a JPEG's first bytes: written as .jpg
await Deno.writeFile(`${root}/image.jpg`, image);
await writeTarShards(
  {
    paths: new Array(SAMPLES).fill(`${root}/image.jpg`),
    labels: Int32Array.from({ length: SAMPLES }, (_, i) => i % 10),
    classNames: [],
  },
  `${root}/train-%06d.tar`,
  { perShard: 1000 },
);
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));

Deno.bench(`index 50 tar shards of 1,000 labelled images`, { n: 5, warmup: 1 }, async () => {
  const index = await indexTarShards(`${root}/train-{000000..000049}.tar`);
  if (index.paths.length !== SAMPLES) throw new Error(`indexed ${index.paths.length} images`);
});
