/**
 * One WebGPU device per process, and the runtime around it: command recording, dispatch,
 * uploads and readbacks, with counters that tests read.
 * @module
 */
import { CommandStream, type DispatchCall, type RuntimeCounters } from "./commands.ts";
import {
  adapterDescription,
  type GpuOptions,
  isSoftwareAdapter,
  requestGpuDevice,
} from "./adapter.ts";
import { BindingCache } from "./bindings.ts";
import { BufferPool } from "./buffer_pool.ts";
import { GpuRuntimeError } from "./errors.ts";
import { PipelineCache } from "./pipeline_cache.ts";
import type { CapturedCommands, CopyCommand, DispatchCommand } from "./capture.ts";
import { packCapture } from "./capture_memory.ts";
import { KernelProfiler, type KernelTime } from "./profiler.ts";
import { subgroupLanesInOrder } from "./subgroup_lanes.ts";
import { withWatchdog } from "./watchdog.ts";

/** A capture in progress: what `endCapture` returns, but the temporaries it holds. */
type CommandCapture = Omit<CapturedCommands, "owned" | "arenas">;

export type { GpuOptions } from "./adapter.ts";
export type { DispatchCall, RuntimeCounters } from "./commands.ts";

/** The process's WebGPU device with its buffer pool, pipeline cache and command recorder. */
export class Gpu {
  /** The WebGPU device. */
  readonly device: GPUDevice;
  /** Adapter description as the driver reports it. */
  readonly adapterInfo: GPUAdapterInfo;
  /** Features enabled on the device. */
  readonly features: ReadonlySet<string>;
  /** Limits of the device (requested at the adapter's maxima). */
  readonly limits: GPUSupportedLimits;
  /** Backend asked of Deno: the user's `DENO_WEBGPU_BACKEND`, "vulkan" (chosen), or "auto". */
  readonly backend: string;
  /** Storage buffer pool. */
  readonly pool: BufferPool;
  /** Pipeline cache. */
  readonly pipelines: PipelineCache;
  /** Readback, submit, dispatch and upload counters. */
  readonly counters: RuntimeCounters = {
    readbacks: 0,
    submits: 0,
    dispatches: 0,
    uploads: 0,
    uniformBuffers: 0,
  };

  #errors: string[] = [];
  #lost: string | undefined;
  /** Uniform parameter buffers and bind groups, cached (src/gpu/bindings.ts). */
  readonly bindings: BindingCache;
  /** Bumped when the uniform cache is emptied: older captured commands must not be replayed. */
  get paramsGeneration(): number {
    return this.bindings.generation;
  }
  /** Whether `endCapture` packs the temporaries into arenas by lifetime (./capture_memory.ts). */
  packCaptures = true;
  /** The capture in progress (see `beginCapture`). */
  #capture: CommandCapture | undefined;
  /** The command encoder, its compute pass and the submits (src/gpu/commands.ts). */
  readonly commands: CommandStream;
  /** Per-kernel GPU timer, when profiling is on (see `startProfiling`). */
  get profiler(): KernelProfiler | undefined {
    return this.commands.profiler;
  }
  set profiler(profiler: KernelProfiler | undefined) {
    this.commands.profiler = profiler;
  }
  /**
   * Whether aligned groups of 8 subgroup lanes are 8 consecutive local indices, as the subgroup
   * matmul needs (checked on the device by `initGpu`; false without the subgroups feature).
   */
  subgroupLanesInOrder = false;
  /** Whether the adapter is a software rasteriser on the CPU (`isSoftwareAdapter`, ./adapter.ts). */
  softwareAdapter: boolean;

  /** Wraps an acquired device; use `initGpu()` instead. */
  constructor(device: GPUDevice, adapterInfo: GPUAdapterInfo, backend: string) {
    this.device = device;
    this.adapterInfo = adapterInfo;
    this.softwareAdapter = isSoftwareAdapter(adapterInfo);
    this.features = new Set(device.features as unknown as Iterable<string>);
    this.limits = device.limits;
    this.backend = backend;
    this.pool = new BufferPool(device);
    this.pipelines = new PipelineCache(device);
    this.commands = new CommandStream(device, this.counters);
    this.bindings = new BindingCache(
      device,
      () => this.flush(),
      () => this.counters.uniformBuffers++,
    );
    device.addEventListener("uncapturederror", (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.#errors.push(`${error.constructor.name}: ${error.message}`);
    });
    device.lost.then((info) => {
      this.#lost = `GPU device lost (${info.reason}): ${info.message}`;
    });
  }

  /** A readable one-line description of the adapter (`adapterDescription`, ./adapter.ts). */
  get description(): string {
    return adapterDescription(this.adapterInfo);
  }

  /** Whether the device has the WebGPU feature `name`. */
  has(name: string): boolean {
    return this.features.has(name);
  }

  /** Records one kernel launch into the current command buffer. */
  dispatch(call: DispatchCall): void {
    this.throwIfFailed();
    const [x, y = 1, z = 1] = call.workgroups;
    const maxPerDimension = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxPerDimension || y > maxPerDimension || z > maxPerDimension) {
      throw new GpuRuntimeError(
        `Kernel "${call.kernel}:${call.entryPoint ?? "main"}" needs workgroups [${x}, ${y}, ${z}]` +
          `, beyond the device limit of ${maxPerDimension} per dimension`,
      );
    }
    if (x === 0 || y === 0 || z === 0) return;
    const pipeline = this.pipelines.get(call);
    const named = this.profiler || this.#capture;
    const command: DispatchCommand = {
      kind: "dispatch",
      name: named
        ? `${call.kernel}:${call.entryPoint ?? "main"}${call.label ? ` ${call.label}` : ""}`
        : "",
      pipeline,
      groups: [this.bindings.group(pipeline, 0, call.buffers)],
      buffers: call.buffers,
      workgroups: [x, y, z],
    };
    if (call.params) {
      command.groups.push(this.bindings.group(pipeline, 1, [this.bindings.params(call.params)]));
    }
    this.#capture?.commands.push(command);
    this.commands.encodeDispatch(command);
  }

  /**
   * Starts capturing every dispatch, copy and upload (see `CapturedCommands`): the work still
   * runs as usual, and `endCapture` returns the list to replay later without the code that made
   * it. An upload without a replay source (`uploadStepInput`, `uploadConstant`) or a readback
   * while capturing makes the capture unreplayable; `endCapture` says why.
   */
  beginCapture(): void {
    if (this.#capture) throw new GpuRuntimeError("beginCapture: a capture is already running");
    this.#capture = { commands: [], failure: undefined, generation: this.paramsGeneration };
    this.pool.beginTracking(() => this.#capture?.commands.length ?? 0);
  }

  /**
   * Ends the capture. The pool buffers released while it ran become the captured commands' own
   * (no one else is handed them; with `packCaptures`, those it also acquired are packed into
   * arenas) until `releaseCaptured` gives them back.
   */
  endCapture(): CapturedCommands {
    const capture = this.#capture;
    if (!capture) throw new GpuRuntimeError("endCapture: no capture is running");
    this.#capture = undefined;
    const { taken, spans } = this.pool.endTracking();
    if (capture.generation !== this.paramsGeneration) {
      capture.failure ??= "the uniform parameter cache was emptied during the capture";
    }
    const captured: CapturedCommands = { ...capture, owned: taken, arenas: [] };
    if (!captured.failure && this.packCaptures) packCapture(captured, spans, this);
    return captured;
  }

  /** Whether `captured` may be replayed now (it succeeded, and its uniforms still exist). */
  canReplay(captured: CapturedCommands): boolean {
    return captured.failure === undefined && captured.generation === this.paramsGeneration;
  }

  /**
   * Records the captured commands again: dispatches with their pipelines and bind groups,
   * copies, and uploads whose data come from their sources now (the next batch, the next
   * random draws, the current schedule values).
   */
  replay(captured: CapturedCommands): void {
    if (!this.canReplay(captured)) {
      throw new GpuRuntimeError(
        `replay: these commands cannot be replayed (${
          captured.failure ?? "the uniform parameter cache was emptied since the capture"
        })`,
      );
    }
    this.throwIfFailed();
    for (const command of captured.commands) {
      if (command.kind === "dispatch") this.commands.encodeDispatch(command);
      else if (command.kind === "copy") this.commands.encodeCopy(command);
      else this.upload(command.buffer, command.source(), command.offset);
    }
  }

  /** Gives the pool buffers owned by `captured` back to the pool (it must not be replayed again). */
  releaseCaptured(captured: CapturedCommands): void {
    this.flush();
    for (const buffer of captured.owned.splice(0)) this.pool.release(buffer);
    this.pool.destroyLive(captured.arenas.splice(0));
    captured.failure ??= "its buffers were given back";
  }

  /**
   * Turns on per-kernel GPU timing (needs `timestamp-query`); returns false where the device
   * lacks it. `stopProfiling` turns it off and gives the kernel times.
   */
  startProfiling(): boolean {
    if (!this.has("timestamp-query")) return false;
    this.flush();
    this.commands.profiler ??= new KernelProfiler(this.device);
    return true;
  }

  /**
   * Turns per-kernel timing off after the work recorded so far; returns the kernel times since
   * `startProfiling`, the largest first (none when profiling was off).
   */
  async stopProfiling(): Promise<KernelTime[]> {
    const profiler = this.profiler;
    if (!profiler) return [];
    this.flush();
    await profiler.collect();
    this.profiler = undefined;
    return profiler.report();
  }

  /** Records a buffer-to-buffer copy after the work recorded so far. */
  copy(
    source: GPUBuffer,
    sourceOffset: number,
    target: GPUBuffer,
    targetOffset: number,
    bytes: number,
  ): void {
    this.throwIfFailed();
    const copy: CopyCommand = { kind: "copy", source, sourceOffset, target, targetOffset, bytes };
    this.#capture?.commands.push(copy);
    this.commands.encodeCopy(copy);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.commands.flush();
  }

  /**
   * Writes `data` into `buffer` at `offset`, after all work recorded so far. Inside a capture,
   * say where replays get their data: `uploadStepInput` (fresh each step) or `uploadConstant`.
   */
  upload(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    if (this.#capture && !this.#capture.failure) {
      this.#capture.failure = `an upload of ${data.byteLength} bytes into "${buffer.label}" ` +
        "has no replay source";
    }
    this.#write(buffer, data, offset);
  }

  /**
   * Uploads `source()` into `buffer`; a replay of a capture that saw this call calls `source`
   * again for that step's data (the next batch, the next random draws, the current schedule).
   */
  uploadStepInput(buffer: GPUBuffer, source: () => ArrayBufferView, offset = 0): void {
    const data = source();
    this.#capture?.commands.push({ kind: "upload", buffer, offset, source });
    this.#write(buffer, data, offset);
  }

  /** Uploads `data`, the same at every replay of a capture that saw this call. */
  uploadConstant(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    this.uploadStepInput(buffer, () => data, offset);
  }

  #write(buffer: GPUBuffer, data: ArrayBufferView, offset: number): void {
    this.throwIfFailed();
    // writeBuffer runs before any later submit: submit pending work that may still read this memory.
    this.flush();
    let bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength % 4 !== 0) {
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      bytes = padded;
    }
    this.device.queue.writeBuffer(buffer, offset, bytes);
    this.counters.uploads++;
  }

  /**
   * Reads byte ranges of several buffers back with one map: each readback costs ~10 ms in Deno,
   * so callers batch what they need.
   */
  async readMany(
    ranges: { buffer: GPUBuffer; offset?: number; bytes: number }[],
  ): Promise<ArrayBuffer[]> {
    const padded = ranges.map((range) => Math.ceil(range.bytes / 4) * 4);
    const total = padded.reduce((sum, bytes) => sum + bytes, 0);
    const staging = this.device.createBuffer({
      size: Math.max(4, total),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: "readback",
    });
    try {
      const encoder = this.commands.endPass();
      let at = 0;
      ranges.forEach((range, index) => {
        if (padded[index] > 0) {
          encoder.copyBufferToBuffer(range.buffer, range.offset ?? 0, staging, at, padded[index]);
        }
        at += padded[index];
      });
      this.flush();
      this.counters.readbacks++;
      if (this.#capture) this.#capture.failure ??= "a readback happened inside the capture";
      await withWatchdog(staging.mapAsync(GPUMapMode.READ), "readback (mapAsync)");
      this.throwIfFailed();
      const mapped = staging.getMappedRange();
      const results: ArrayBuffer[] = [];
      at = 0;
      ranges.forEach((range, index) => {
        results.push(mapped.slice(at, at + range.bytes));
        at += padded[index];
      });
      staging.unmap();
      return results;
    } finally {
      staging.destroy();
    }
  }

  /** Waits until all submitted work has finished (guarded by the watchdog). */
  async sync(): Promise<void> {
    this.flush();
    await withWatchdog(this.device.queue.onSubmittedWorkDone(), "onSubmittedWorkDone");
    await this.pipelines.check();
    this.throwIfFailed();
  }

  /** Throws any device error reported so far (validation, out of memory, loss, compile). */
  throwIfFailed(): void {
    this.pipelines.throwIfFailed();
    if (this.#lost) throw new GpuRuntimeError(this.#lost);
    if (this.#errors.length > 0) {
      const errors = this.#errors.splice(0);
      throw new GpuRuntimeError(`GPU reported ${errors.length} error(s):\n${errors.join("\n")}`);
    }
  }
}

let current: Gpu | undefined;
let pending: Promise<Gpu> | undefined;

/** Acquires the process's device (once; later calls return the same one). */
export function initGpu(options: GpuOptions = {}): Promise<Gpu> {
  if (current) return Promise.resolve(current);
  pending ??= acquire(options).then((gpu) => (current = gpu)).finally(() => (pending = undefined));
  return pending;
}

/**
 * Destroys the process's device (its buffers and pipelines with it) so that the next `initGpu()`
 * acquires a new one: `deno test` runs every test module with its own globals and device, and a
 * GPU driver (NVIDIA's, after about 40 modules) stops handing out adapters while old ones live.
 */
export function releaseGpu(): void {
  const released = current;
  current = undefined;
  released?.device.destroy();
}

/** The device acquired by `initGpu()`; throws if it has not been acquired yet. */
export function gpu(): Gpu {
  if (!current) {
    throw new GpuRuntimeError("The GPU is not initialised: call `await initGpu()` first");
  }
  return current;
}

async function acquire(options: GpuOptions): Promise<Gpu> {
  const { device, adapterInfo, backend } = await requestGpuDevice(options);
  const gpu = new Gpu(device, adapterInfo, backend);
  if (gpu.has("subgroups")) {
    gpu.subgroupLanesInOrder = await subgroupLanesInOrder(gpu);
    for (const name of Object.keys(gpu.counters) as (keyof RuntimeCounters)[]) {
      gpu.counters[name] = 0; // the check's dispatches and readback are not the caller's
    }
  }
  return gpu;
}
