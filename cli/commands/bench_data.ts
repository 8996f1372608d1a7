/**
 * `dinogpu bench data`: images/s of the streaming data path alone (decode + RandomResizedCrop on
 * the original + Pillow-bicubic resize of 2 global 224 px and N local 96 px crops per image, in
 * the worker pool), no model, no GPU; and the process's peak RSS.
 * @module
 */
import type { Command } from "commander";
import { loadDataSpec } from "../../src/data/spec.ts";
import { IndexedImages } from "../../src/data/stream/image_index.ts";
import { defaultWorkerCount } from "../../src/data/stream/crop_pool.ts";
import { fastDecoderName } from "../../src/data/stream/fast_decode.ts";
import { StreamLoader } from "../../src/data/stream/stream_loader.ts";
import { UserError } from "../run.ts";
import { wholeOption } from "../shared.ts";

/** Options of `benchData`. */
export interface BenchDataOptions {
  /** A streamed data spec: folder:DIR, list:FILE or tar:PATTERN. */
  data: string;
  /** Decoding workers; default one per core. */
  workers?: number;
  /** Local crops per image; default 2. */
  localCrops?: number;
  /** Images per batch; default 32. */
  batchSize?: number;
  /** Images timed (after one warm-up batch); default 512. */
  images?: number;
}

/** The peak resident set of this process (VmHWM on Linux; else the current RSS). */
function peakRss(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const match = /VmHWM:\s+(\d+) kB/.exec(status);
    if (match) return Number(match[1]) * 1024;
  } catch {
    // not Linux
  }
  return Deno.memoryUsage().rss;
}

/** Runs the data path on `options.data`; returns the figures `bench data` prints. */
export async function benchData(options: BenchDataOptions): Promise<Record<string, unknown>> {
  const started = performance.now();
  const loaded = await loadDataSpec(options.data).catch((error) => {
    throw new UserError((error as Error).message);
  });
  const source = loaded.train;
  if (!(source instanceof IndexedImages)) {
    throw new UserError(
      `bench data: ${loaded.name} is held in memory; bench data times folder:, list: and tar:`,
    );
  }
  const localCrops = options.localCrops ?? 2;
  const batchSize = options.batchSize ?? 32;
  const workers = options.workers ?? defaultWorkerCount();
  const wanted = options.images ?? 512;
  const views = [
    { size: 224, scale: [0.4, 1] as const },
    { size: 224, scale: [0.4, 1] as const },
    ...Array.from({ length: localCrops }, () => ({ size: 96, scale: [0.05, 0.4] as const })),
  ];
  const loader = new StreamLoader(source, { batchSize, workers, views: () => views });
  let images = 0;
  let timedFrom = 0;
  let firstBatch = 0;
  try {
    for await (const batch of loader.batches(0, 0)) {
      if (timedFrom === 0) {
        timedFrom = performance.now();
        firstBatch = (timedFrom - started) / 1000;
        continue;
      }
      images += batch.labels.length;
      if (images >= wanted) break;
    }
  } finally {
    loader.close();
  }
  const seconds = (performance.now() - timedFrom) / 1000;
  return {
    data: loaded.name,
    images_in_source: source.length,
    workers: loader.workers,
    decoder: await fastDecoderName(),
    batch_size: batchSize,
    crops: `2x224 + ${localCrops}x96`,
    images_timed: images,
    seconds,
    images_per_second: images / seconds,
    first_batch_seconds: firstBatch,
    peak_rss_bytes: peakRss(),
    skipped: loader.skipped.length,
  };
}

/** Adds `bench data` to the `bench` command. */
export function addBenchDataCommand(bench: Command): void {
  bench.command("data")
    .description(
      "images/s of decode + RandomResizedCrop + bicubic resize in the workers (no model)",
    )
    .requiredOption("--data <spec>", "folder:DIR | list:FILE | tar:PATTERN")
    .option("--workers <n>", "decoding workers (default: one per core)", wholeOption("--workers"))
    .option("--local-crops <n>", "96 px local crops per image", wholeOption("--local-crops", 0), 2)
    .option("--batch-size <n>", "images per batch", wholeOption("--batch-size"), 32)
    .option("--images <n>", "images timed after one warm-up batch", wholeOption("--images"), 512)
    .option("--json", "print one JSON object")
    .action(async (options) => {
      const result = await benchData(options);
      if (options.json) {
        console.log(JSON.stringify(result));
        return;
      }
      console.log(
        `${(result.images_per_second as number).toFixed(1)} images/s (${result.crops}, ` +
          `${result.workers} workers), peak RSS ${
            ((result.peak_rss_bytes as number) / 2 ** 20).toFixed(0)
          } MiB, first batch after ${(result.first_batch_seconds as number).toFixed(1)} s`,
      );
    });
}
