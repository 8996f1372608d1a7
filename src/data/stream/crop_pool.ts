/**
 * A pool of Workers that decode images and cut their crops (./crop_job.ts) off the main thread.
 * Jobs queue in order and go to the least busy worker, which holds at most `JOBS_PER_WORKER` at
 * a time. With zero workers the jobs run on the calling thread.
 * @module
 */
import type { CropJob, CropReply } from "./crop_job.ts";
import { runCropJob } from "./crop_job.ts";

/**
 * Jobs a worker holds at once (one running, the rest in its inbox): enough that workers keep
 * cutting while the main thread is busy (building pipelines, recording a step).
 */
const JOBS_PER_WORKER = 8;

interface Pending {
  job: CropJob;
  resolve: (reply: CropReply) => void;
  reject: (error: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  busy: Map<number, Pending>;
}

/** Whether the worker module can be loaded (always true off the file system). */
function workerScriptExists(script: URL): boolean {
  if (script.protocol !== "file:") return true;
  try {
    return Deno.statSync(script).isFile;
  } catch {
    return false;
  }
}

/** The number of logical cores (at least 1), the default pool size. */
export function defaultWorkerCount(): number {
  return Math.max(1, navigator.hardwareConcurrency ?? 1);
}

/** Decoding and cropping Workers; `run` resolves with each job's reply. */
export class CropPool {
  /** Number of workers (0: jobs run on the calling thread). */
  readonly size: number;
  readonly #workers: PoolWorker[] = [];
  readonly #queue: Pending[] = [];
  #nextId = 1;
  #closed = false;

  /**
   * Starts `size` workers (default: one per core); where the worker module is not beside this
   * one (a single-file bundle), the jobs run on the calling thread instead.
   */
  constructor(size: number = defaultWorkerCount()) {
    if (!Number.isInteger(size) || size < 0) {
      throw new RangeError(`CropPool: workers must be a whole number >= 0, got ${size}`);
    }
    const script = new URL("./crop_worker.ts", import.meta.url);
    this.size = size > 0 && workerScriptExists(script) ? size : 0;
    for (let i = 0; i < this.size; i++) {
      const worker = new Worker(script, {
        type: "module",
        name: `dinogpu crop ${i}`,
      });
      const entry: PoolWorker = { worker, busy: new Map() };
      worker.onmessage = (event: MessageEvent<CropReply>) => {
        const pending = entry.busy.get(event.data.id);
        entry.busy.delete(event.data.id);
        pending?.resolve(event.data);
        this.#dispatch();
      };
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        const error = new Error(`crop worker ${i} failed: ${event.message}`);
        for (const pending of entry.busy.values()) pending.reject(error);
        entry.busy.clear();
      };
      this.#workers.push(entry);
    }
  }

  /** Runs `job` (its `id` is set here) on a free worker; resolves with the reply. */
  run(job: Omit<CropJob, "id">): Promise<CropReply> {
    if (this.#closed) return Promise.reject(new Error("CropPool: the pool is closed"));
    const full = { ...job, id: this.#nextId++ } as CropJob;
    if (this.size === 0) return runCropJob(full);
    return new Promise((resolve, reject) => {
      this.#queue.push({ job: full, resolve, reject });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let target: PoolWorker | undefined;
      for (const entry of this.#workers) {
        if (entry.busy.size < JOBS_PER_WORKER && (!target || entry.busy.size < target.busy.size)) {
          target = entry;
        }
      }
      if (!target) return;
      const pending = this.#queue.shift()!;
      target.busy.set(pending.job.id, pending);
      target.worker.postMessage(pending.job);
    }
  }

  /** Stops every worker; queued and running jobs are rejected. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = new Error("CropPool: closed");
    for (const pending of this.#queue) pending.reject(error);
    this.#queue.length = 0;
    for (const entry of this.#workers) {
      for (const pending of entry.busy.values()) pending.reject(error);
      entry.busy.clear();
      entry.worker.terminate();
    }
  }
}
