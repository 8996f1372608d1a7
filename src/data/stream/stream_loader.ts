/**
 * Batches of crops streamed from an image index: each epoch a seeded permutation of the images
 * (this process's share with `shardIndex`/`shardCount`), each image decoded and cut into its
 * views by the worker pool, `prefetch` batches under way while the caller trains. Everything
 * random is a function of (seed, epoch, image), so a batch is the same whichever worker cut it
 * and a resumed run sees the very batches of a run never stopped. Batches live in a ring of
 * `prefetch + 2` shared buffers: memory does not grow with the data set.
 * @module
 */
import type { Batch } from "../loader.ts";
import { mixSeed } from "../dataset.ts";
import { MAX_IMAGE_PIXELS } from "../../io/image.ts";
import type { SkippedImage } from "../image_folder.ts";
import type { CropView } from "./crop_job.ts";
import { CropPool, defaultWorkerCount } from "./crop_pool.ts";
import type { IndexedImages } from "./image_index.ts";

/** Options of `StreamLoader`. */
export interface StreamLoaderOptions {
  /** Images per batch. */
  batchSize: number;
  /** Seed of the order and the crops; default 0. */
  seed?: number;
  /** Decoding workers; default one per core (0: decode on the calling thread). */
  workers?: number;
  /** Batches prepared ahead; default 2. */
  prefetch?: number;
  /** This process's part of every epoch (0-based); default 0. */
  shardIndex?: number;
  /** Number of processes sharing every epoch; default 1. */
  shardCount?: number;
  /** Largest image accepted, in pixels, read from the header; default `MAX_IMAGE_PIXELS`. */
  maxPixels?: number;
  /** The views of the batch at a global step (the resolution phase's sizes). */
  views: (step: number) => readonly CropView[];
  /** Called once for each file found unreadable. */
  onSkip?: (skipped: SkippedImage) => void;
}

/** Batches under way and how to start more. */
interface PendingBatches {
  /** The next batches, in order. */
  queue: Promise<Batch>[];
  /** Starts batches until `prefetch` are under way. */
  fill: () => void;
}

/** Readable images tried in place of an unreadable one before giving up. */
const REPLACEMENT_TRIES = 16;

/** Yields batches of worker-cut crops, view after view (see the module doc). */
export class StreamLoader {
  /** The images. */
  readonly source: IndexedImages;
  /** Images per batch. */
  readonly batchSize: number;
  /** Seed of order and crops. */
  readonly seed: number;
  /** Batches prepared ahead. */
  readonly prefetch: number;
  /** This process's part. */
  readonly shardIndex: number;
  /** Number of parts. */
  readonly shardCount: number;
  /** Files found unreadable (each once). */
  readonly skipped: SkippedImage[] = [];
  readonly #options: StreamLoaderOptions;
  readonly #pool: CropPool;
  readonly #bad = new Set<number>();
  readonly #ring: SharedArrayBuffer[];
  #slot = 0;

  /** Checks the options and starts the workers. */
  constructor(source: IndexedImages, options: StreamLoaderOptions) {
    const { batchSize } = options;
    this.source = source;
    this.batchSize = batchSize;
    this.seed = options.seed ?? 0;
    this.prefetch = options.prefetch ?? 2;
    this.shardIndex = options.shardIndex ?? 0;
    this.shardCount = options.shardCount ?? 1;
    this.#options = options;
    const whole = (value: number, low: number) => Number.isInteger(value) && value >= low;
    if (!whole(batchSize, 1)) {
      throw new RangeError(
        `StreamLoader: batch size must be a whole number >= 1, got ${batchSize}`,
      );
    }
    if (!whole(this.prefetch, 1)) {
      throw new RangeError(
        `StreamLoader: prefetch must be a whole number >= 1, got ${this.prefetch}`,
      );
    }
    if (
      !whole(this.shardCount, 1) || !whole(this.shardIndex, 0) || this.shardIndex >= this.shardCount
    ) {
      throw new RangeError(
        `StreamLoader: shard ${this.shardIndex} of ${this.shardCount} (want 0 <= index < count)`,
      );
    }
    if (this.batchesPerEpoch === 0) {
      throw new RangeError(
        `StreamLoader: ${this.shardLength} images make no full batch of ${batchSize}`,
      );
    }
    this.#ring = Array.from({ length: this.prefetch + 2 }, () => new SharedArrayBuffer(0));
    this.#pool = new CropPool(options.workers ?? defaultWorkerCount());
  }

  /** Workers decoding (0: on the calling thread, as in a single-file bundle). */
  get workers(): number {
    return this.#pool.size;
  }

  /** Images drawn from (all shards). */
  get images(): number {
    return this.source.length;
  }

  /** Images of this process's part of an epoch. */
  get shardLength(): number {
    const n = this.source.length;
    return Math.floor(n / this.shardCount) + (this.shardIndex < n % this.shardCount ? 1 : 0);
  }

  /** Full batches per epoch (the last, smaller one is dropped). */
  get batchesPerEpoch(): number {
    return Math.floor(this.shardLength / this.batchSize);
  }

  /** This process's images of `epoch`, in order: every `shardCount`-th of the epoch's permutation. */
  order(epoch: number): Int32Array {
    const all = this.source.order(this.seed, epoch);
    if (this.shardCount === 1) return all;
    return all.filter((_, position) => position % this.shardCount === this.shardIndex);
  }

  /**
   * Starts cutting the first batches of `batches(epoch, first, stepOffset)` now (while the caller
   * builds its model, say); a later `batches` call with the same arguments continues them, one
   * with others drops them.
   */
  prime(epoch: number, first = 0, stepOffset = 0): void {
    this.#primed = {
      key: `${epoch},${first},${stepOffset}`,
      pending: this.#start(epoch, first, stepOffset),
    };
  }

  #primed: { key: string; pending: PendingBatches } | undefined;

  /** The epoch's batch promises from `first` on, the first `prefetch` of them started. */
  #start(epoch: number, first: number, stepOffset: number): PendingBatches {
    const order = this.order(epoch);
    const count = this.batchesPerEpoch;
    const queue: Promise<Batch>[] = [];
    let next = first;
    const fill = () => {
      while (queue.length < this.prefetch && next < count) {
        const batch = this.#assemble(order, epoch, next, stepOffset + next);
        batch.catch(() => {}); // reported when awaited
        queue.push(batch);
        next++;
      }
    };
    fill();
    return { queue, fill };
  }

  /**
   * The batches of `epoch` from batch `first` on; `stepOffset` is the global step of the epoch's
   * first batch (it picks each batch's views). Stop iterating at any point: batches under way
   * are dropped.
   */
  async *batches(epoch: number, first = 0, stepOffset = 0): AsyncGenerator<Batch> {
    const key = `${epoch},${first},${stepOffset}`;
    const primed = this.#primed;
    this.#primed = undefined;
    const { queue, fill } = primed?.key === key
      ? primed.pending
      : this.#start(epoch, first, stepOffset);
    while (queue.length > 0) {
      const batch = await queue.shift()!;
      fill(); // the next batches are cut while the caller trains on this one
      yield batch;
    }
  }

  /** Cuts batch `step` of `epoch` into the next ring buffer. */
  async #assemble(
    order: Int32Array,
    epoch: number,
    step: number,
    globalStep: number,
  ): Promise<Batch> {
    const views = this.#options.views(globalStep);
    const size = this.batchSize;
    const viewBytes = views.map((view) => size * view.size * view.size * 3);
    const bytes = viewBytes.reduce((a, b) => a + b, 0);
    const slot = this.#slot;
    this.#slot = (slot + 1) % this.#ring.length;
    if (this.#ring[slot].byteLength !== bytes) this.#ring[slot] = new SharedArrayBuffer(bytes);
    const target = this.#ring[slot];
    const indices = order.slice(step * size, (step + 1) * size);
    const labels = new Int32Array(size);
    await Promise.all(Array.from(indices, async (index, b) => {
      let at = 0;
      const offsets = views.map((view, v) => {
        const offset = at + b * view.size * view.size * 3;
        at += viewBytes[v];
        return offset;
      });
      const used = await this.#cut(index, epoch, views, target, offsets);
      labels[b] = this.source.label(used);
    }));
    const first = views[0]?.size ?? 0;
    return {
      images: new Uint8Array(target, 0, bytes),
      labels,
      indices,
      shape: [size, first, first, 3],
      epoch,
      step,
      views: views.map((view) => view.size),
    };
  }

  /**
   * Cuts image `index` (or, when it is unreadable, the next readable one by index, with the same
   * seed); returns the index used.
   */
  async #cut(
    index: number,
    epoch: number,
    views: readonly CropView[],
    target: SharedArrayBuffer,
    offsets: number[],
  ): Promise<number> {
    const n = this.source.length;
    const seed = mixSeed(this.seed, epoch, index, 0xc209);
    for (let tries = 0; tries < Math.min(REPLACEMENT_TRIES, n); tries++) {
      const candidate = (index + tries) % n;
      if (this.#bad.has(candidate)) continue;
      const path = this.source.index.paths[candidate];
      const [offset, length] = this.source.range(candidate);
      const reply = await this.#pool.run({
        path,
        offset,
        length,
        seed,
        views,
        target,
        offsets,
        maxPixels: this.#options.maxPixels ?? MAX_IMAGE_PIXELS,
      });
      if (!reply.error) return candidate;
      this.#bad.add(candidate);
      const skipped = { path, reason: reply.error };
      this.skipped.push(skipped);
      this.#options.onSkip?.(skipped);
    }
    throw new Error(
      `${this.source.name}: ${REPLACEMENT_TRIES} unreadable images in a row from ` +
        `${this.source.index.paths[index]} (${this.skipped.at(-1)?.reason})`,
    );
  }

  /** Stops the workers. */
  close(): void {
    this.#pool.close();
  }
}
