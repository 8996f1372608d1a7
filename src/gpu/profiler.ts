/**
 * Per-kernel GPU time from timestamp queries. When profiling is on, every dispatch gets its own
 * compute pass with `timestampWrites`; the timestamps of each submit are resolved into a staging
 * buffer and read when a report is asked for. Profiling changes the timing it measures (one pass
 * per dispatch), so compare kernels with each other, not with unprofiled runs.
 * @module
 */

/** GPU time spent in one kernel entry point. */
export interface KernelTime {
  /** `kernel:entry`. */
  name: string;
  /** Launches measured. */
  launches: number;
  /** Total GPU time in milliseconds. */
  milliseconds: number;
}

const QUERIES_PER_SUBMIT = 2 * 1024;

interface PendingSubmit {
  staging: GPUBuffer;
  names: string[];
}

/** Collects timestamp pairs around dispatches, per submit. */
export class KernelProfiler {
  readonly #device: GPUDevice;
  readonly #querySet: GPUQuerySet;
  readonly #resolve: GPUBuffer;
  #names: string[] = [];
  #pending: PendingSubmit[] = [];
  readonly #totals = new Map<string, KernelTime>();

  /** Creates the query set; the device must have `timestamp-query`. */
  constructor(device: GPUDevice) {
    this.#device = device;
    this.#querySet = device.createQuerySet({ type: "timestamp", count: QUERIES_PER_SUBMIT });
    this.#resolve = device.createBuffer({
      size: QUERIES_PER_SUBMIT * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      label: "profiler-resolve",
    });
  }

  /** Whether the current submit has room for another timed dispatch. */
  get full(): boolean {
    return (this.#names.length + 1) * 2 > QUERIES_PER_SUBMIT;
  }

  /** Timestamp writes for the next dispatch, named `name`. */
  timestampWrites(name: string): GPUComputePassTimestampWrites {
    const index = this.#names.length * 2;
    this.#names.push(name);
    return {
      querySet: this.#querySet,
      beginningOfPassWriteIndex: index,
      endOfPassWriteIndex: index + 1,
    };
  }

  /** Records the resolve of this submit's timestamps into `encoder` (call just before submit). */
  resolveInto(encoder: GPUCommandEncoder): void {
    if (this.#names.length === 0) return;
    const count = this.#names.length * 2;
    const staging = this.#device.createBuffer({
      size: count * 8,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: "profiler-staging",
    });
    encoder.resolveQuerySet(this.#querySet, 0, count, this.#resolve, 0);
    encoder.copyBufferToBuffer(this.#resolve, 0, staging, 0, count * 8);
    this.#pending.push({ staging, names: this.#names });
    this.#names = [];
  }

  /** Reads every submitted timestamp and adds it to the totals. */
  async collect(): Promise<void> {
    const pending = this.#pending.splice(0);
    for (const { staging, names } of pending) {
      await staging.mapAsync(GPUMapMode.READ);
      const stamps = new BigUint64Array(staging.getMappedRange());
      names.forEach((name, index) => {
        const begin = stamps[2 * index];
        const end = stamps[2 * index + 1];
        const milliseconds = end > begin ? Number(end - begin) / 1e6 : 0;
        const total = this.#totals.get(name) ?? { name, launches: 0, milliseconds: 0 };
        total.launches++;
        total.milliseconds += milliseconds;
        this.#totals.set(name, total);
      });
      staging.unmap();
      staging.destroy();
    }
  }

  /** Forgets what was measured so far (for example the warm-up steps). */
  reset(): void {
    this.#totals.clear();
  }

  /** Kernel times so far, the largest first. */
  report(): KernelTime[] {
    return [...this.#totals.values()].sort((a, b) => b.milliseconds - a.milliseconds);
  }
}

/** A table of kernel times, the `limit` largest, with shares of the total. */
export function formatKernelTimes(times: KernelTime[], limit = 25): string {
  const total = times.reduce((sum, time) => sum + time.milliseconds, 0);
  const lines = [
    `GPU time by kernel (timestamp queries, one pass per dispatch): ${total.toFixed(1)} ms`,
    `${"kernel:entry".padEnd(56)} ${"launches".padStart(9)} ${"ms".padStart(10)} ${
      "share".padStart(6)
    } ${"us/launch".padStart(10)}`,
  ];
  for (const time of times.slice(0, limit)) {
    lines.push(
      `${time.name.padEnd(56)} ${String(time.launches).padStart(9)} ${
        time.milliseconds.toFixed(1).padStart(10)
      } ${(100 * time.milliseconds / Math.max(total, 1e-9)).toFixed(1).padStart(5)}% ${
        (1000 * time.milliseconds / Math.max(time.launches, 1)).toFixed(1).padStart(10)
      }`,
    );
  }
  if (times.length > limit) lines.push(`... ${times.length - limit} more kernels`);
  return lines.join("\n");
}
