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
    const reused = this.#idle.get(size)?.pop();
    let buffer = reused;
    if (!buffer) {
      buffer = this.#device.createBuffer({ size, usage: STORAGE_USAGE, label });
      this.#sizes.set(buffer, size);
      this.counters.allocations++;
      this.counters.allocatedBytes += size;
      this.counters.peakAllocatedBytes = Math.max(
        this.counters.peakAllocatedBytes,
        this.counters.allocatedBytes,
      );
    }
    this.counters.liveBytes += size;
    this.counters.peakLiveBytes = Math.max(this.counters.peakLiveBytes, this.counters.liveBytes);
    return buffer;
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
  }

  #released: Set<GPUBuffer> | undefined;

  /** Starts noting the buffers released (see `endTracking`). */
  beginTracking(): void {
    this.#released = new Set();
  }

  /**
   * Stops noting releases and takes the buffers released since `beginTracking` that are still
   * idle out of the pool: they count as live until given back with `release`. A captured step
   * owns its temporaries this way, so that no one else writes them between replays.
   */
  endTracking(): GPUBuffer[] {
    const released = this.#released ?? new Set();
    this.#released = undefined;
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
    return taken;
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
