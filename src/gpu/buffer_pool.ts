/**
 * A pool of storage buffers in size classes. Buffers leave the pool only through `destroy()`, the
 * one way GPU memory comes back in Deno. Counters let tests assert that memory stays flat.
 * @module
 */

/** Usage flags of every pooled storage buffer. */
export const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
  GPUBufferUsage.COPY_DST;

/** Counters that tests and benchmarks read. */
export interface PoolCounters {
  /** Bytes of buffers currently handed out (in use by tensors). */
  liveBytes: number;
  /** Bytes of all buffers that exist (in use plus idle in the pool). */
  allocatedBytes: number;
  /** Highest `allocatedBytes` seen since the last `resetPeak()`. */
  peakAllocatedBytes: number;
  /** Highest `liveBytes` seen since the last `resetPeak()` (what tensors needed at once). */
  peakLiveBytes: number;
  /** Number of `createBuffer` calls made by the pool since start. */
  allocations: number;
  /** Number of buffers destroyed by the pool since start. */
  destroyed: number;
}

/** Rounds a byte size up to its size class: 256 bytes minimum, then steps of 2^k and 1.5 * 2^k. */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const power = 2 ** Math.ceil(Math.log2(bytes));
  const threeQuarter = power * 0.75;
  return bytes <= threeQuarter && Number.isInteger(threeQuarter) && threeQuarter % 4 === 0
    ? threeQuarter
    : power;
}

/** When a buffer was in use: handed out at `[0]`, given back at `[1]` (a tracking clock's readings). */
export type BufferSpan = [number, number];

/** A size-class pool of storage buffers for one device. */
export class BufferPool {
  readonly #device: GPUDevice;
  readonly #idle = new Map<number, GPUBuffer[]>();
  readonly #sizes = new WeakMap<GPUBuffer, number>();
  /** The counters; read them, do not write them. */
  readonly counters: PoolCounters = {
    liveBytes: 0,
    allocatedBytes: 0,
    peakAllocatedBytes: 0,
    peakLiveBytes: 0,
    allocations: 0,
    destroyed: 0,
  };

  /** Creates a pool on `device`. */
  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** Hands out a buffer of at least `bytes` bytes, reusing an idle one of the same class. */
  acquire(bytes: number, label?: string): GPUBuffer {
    const size = sizeClass(bytes);
    const buffer = this.#idle.get(size)?.pop() ?? this.#create(size, label);
    if (this.#spans) {
      const spans = this.#spans.get(buffer);
      if (spans) spans.push([this.#clock(), Infinity]);
      else this.#spans.set(buffer, [[this.#clock(), Infinity]]);
    }
    this.#countLive(size);
    return buffer;
  }

  #create(size: number, label?: string): GPUBuffer {
    const buffer = this.#device.createBuffer({ size, usage: STORAGE_USAGE, label });
    this.#sizes.set(buffer, size);
    this.counters.allocations++;
    this.counters.allocatedBytes += size;
    this.counters.peakAllocatedBytes = Math.max(
      this.counters.peakAllocatedBytes,
      this.counters.allocatedBytes,
    );
    return buffer;
  }

  #countLive(size: number): void {
    this.counters.liveBytes += size;
    this.counters.peakLiveBytes = Math.max(this.counters.peakLiveBytes, this.counters.liveBytes);
  }

  /** The bytes of a buffer of this pool (its size class). */
  sizeOf(buffer: GPUBuffer): number {
    const size = this.#sizes.get(buffer);
    if (size === undefined) throw new Error("BufferPool.sizeOf: buffer does not belong to pool");
    return size;
  }

  /**
   * Creates a buffer of exactly `bytes` bytes (a multiple of 4) that counts as live until
   * `destroyLive` (a captured step's arena, src/gpu/capture_memory.ts).
   */
  createLive(bytes: number, label?: string): GPUBuffer {
    const buffer = this.#create(bytes, label);
    this.#countLive(bytes);
    return buffer;
  }

  /**
   * Destroys buffers that count as live (taken by `endTracking`, or made by `createLive`). The
   * caller must have submitted pending work that uses them.
   */
  destroyLive(buffers: readonly GPUBuffer[]): void {
    for (const buffer of buffers) {
      const size = this.sizeOf(buffer);
      this.counters.liveBytes -= size;
      this.counters.allocatedBytes -= size;
      this.counters.destroyed++;
      buffer.destroy();
    }
  }

  /** Returns a buffer to the pool for reuse. */
  release(buffer: GPUBuffer): void {
    const size = this.#sizes.get(buffer);
    if (size === undefined) throw new Error("BufferPool.release: buffer does not belong to pool");
    this.counters.liveBytes -= size;
    let list = this.#idle.get(size);
    if (!list) this.#idle.set(size, list = []);
    list.push(buffer);
    this.#released?.add(buffer);
    const spans = this.#spans?.get(buffer);
    if (spans) spans[spans.length - 1][1] = this.#clock();
    else if (this.#spans) this.#handedOutBefore.add(buffer);
  }

  #released: Set<GPUBuffer> | undefined;
  #spans: Map<GPUBuffer, BufferSpan[]> | undefined;
  #handedOutBefore = new Set<GPUBuffer>();
  #clock: () => number = () => 0;

  /**
   * Starts noting the buffers released, and when each is handed out and given back by `clock`
   * (a captured step's command count; see `endTracking`).
   */
  beginTracking(clock: () => number): void {
    this.#released = new Set();
    this.#spans = new Map();
    this.#handedOutBefore = new Set();
    this.#clock = clock;
  }

  /**
   * Stops noting and takes the buffers released since `beginTracking` that are still idle out of
   * the pool: they count as live until given back with `release`. A captured step owns its
   * temporaries this way, so that no one else writes them between replays. `spans`: for those of
   * them first handed out after `beginTracking` (their contents before then do not matter), each
   * time they were in use, from hand-out to release by the clock.
   */
  endTracking(): { taken: GPUBuffer[]; spans: Map<GPUBuffer, BufferSpan[]> } {
    const released = this.#released ?? new Set();
    const allSpans = this.#spans ?? new Map();
    this.#released = undefined;
    this.#spans = undefined;
    const taken: GPUBuffer[] = [];
    for (const [size, list] of this.#idle) {
      const kept = list.filter((buffer) => !released.has(buffer));
      for (const buffer of list) {
        if (released.has(buffer)) {
          taken.push(buffer);
          this.counters.liveBytes += size;
        }
      }
      this.#idle.set(size, kept);
    }
    const spans = new Map<GPUBuffer, BufferSpan[]>();
    for (const buffer of taken) {
      if (!this.#handedOutBefore.has(buffer) && allSpans.has(buffer)) {
        spans.set(buffer, allSpans.get(buffer)!);
      }
    }
    return { taken, spans };
  }

  /** Destroys every idle buffer. The caller must have submitted pending work that uses them. */
  trim(): void {
    for (const list of this.#idle.values()) {
      for (const buffer of list) {
        this.counters.allocatedBytes -= this.#sizes.get(buffer)!;
        this.counters.destroyed++;
        buffer.destroy();
      }
    }
    this.#idle.clear();
  }

  /** Bytes held idle in the pool. */
  get idleBytes(): number {
    return this.counters.allocatedBytes - this.counters.liveBytes;
  }

  /** Starts a new peak measurement at the current allocation. */
  resetPeak(): void {
    this.counters.peakAllocatedBytes = this.counters.allocatedBytes;
    this.counters.peakLiveBytes = this.counters.liveBytes;
  }
}
