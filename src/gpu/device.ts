/**
 * One WebGPU device per process, and the runtime around it: command recording, dispatch,
 * uploads and readbacks, with counters that tests read.
 * @module
 */
import { chooseBackend } from "./backend.ts";
import { BufferPool } from "./buffer_pool.ts";
import { GpuRuntimeError, GpuUnavailableError } from "./errors.ts";
import { type KernelConstants, type KernelName, PipelineCache } from "./pipeline_cache.ts";
import type { CapturedCommand, CapturedCommands, CopyCommand, DispatchCommand } from "./capture.ts";
import { KernelProfiler } from "./profiler.ts";
import { subgroupLanesInOrder } from "./subgroup_lanes.ts";
import { withWatchdog } from "./watchdog.ts";

/** Counters of work crossing the CPU-GPU boundary. */
export interface RuntimeCounters {
  /** GPU-to-CPU reads (each one costs at least ~10 ms in Deno). */
  readbacks: number;
  /** Command buffers submitted. */
  submits: number;
  /** Compute dispatches recorded. */
  dispatches: number;
  /** CPU-to-GPU uploads. */
  uploads: number;
  /** Uniform parameter buffers created (one per distinct parameter block; cached after). */
  uniformBuffers: number;
}

/** One kernel launch. */
export interface DispatchCall {
  /** Kernel file name, `kernels/<kernel>.wgsl`. */
  kernel: KernelName;
  /** Entry point; `main` when omitted. */
  entryPoint?: string;
  /** Override constants that specialise the kernel. */
  constants?: KernelConstants;
  /** Storage buffers bound at `@group(0) @binding(i)` in order. */
  buffers: GPUBuffer[];
  /** Uniform parameters bound at `@group(1) @binding(0)`, as 32-bit words. */
  params?: Uint32Array | Float32Array | Int32Array;
  /** Workgroup counts in x, y and z. */
  workgroups: readonly [number, number?, number?];
  /** What this launch works on (a shape), shown beside the kernel name when profiling. */
  label?: string;
}

interface CommandCapture {
  commands: CapturedCommand[];
  failure: string | undefined;
  generation: number;
}

/** Options for acquiring the device. */
export interface GpuOptions {
  /** Power preference passed to `requestAdapter`. */
  powerPreference?: GPUPowerPreference;
  /** Leave out optional features (f16, subgroups, timestamps), for testing fallbacks. */
  disableOptionalFeatures?: boolean;
}

const OPTIONAL_FEATURES = ["shader-f16", "timestamp-query", "subgroups"] as const;

const NO_ADAPTER_HELP = [
  "No WebGPU adapter was found.",
  "On a machine without a GPU, install Mesa's software drivers:",
  "  apt-get install mesa-vulkan-drivers   (Vulkan: lavapipe; the default once installed)",
  "  apt-get install libgl1-mesa-dri       (OpenGL: llvmpipe; select it with DENO_WEBGPU_BACKEND=gl)",
  "On a machine with a GPU, install its Vulkan driver and loader (libvulkan1).",
  "In a browser, use one with WebGPU enabled (Chrome/Chromium 113+, or --enable-unsafe-webgpu).",
].join("\n");

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

  #encoder: GPUCommandEncoder | undefined;
  #pass: GPUComputePassEncoder | undefined;
  #recordedDispatches = 0;
  #errors: string[] = [];
  #lost: string | undefined;
  readonly #paramBuffers = new Map<string, GPUBuffer>();
  readonly #bindGroups = new Map<string, GPUBindGroup>();
  readonly #ids = new WeakMap<object, number>();
  #nextId = 1;
  /** Dispatches recorded before the runtime submits on its own. */
  maxDispatchesPerSubmit = 512;
  /**
   * Bumped whenever the uniform parameter cache is emptied (its buffers destroyed): captured
   * commands from an older generation must not be replayed.
   */
  paramsGeneration = 0;
  /** The capture in progress (see `beginCapture`). */
  #capture: CommandCapture | undefined;
  /** Per-kernel GPU timer, when profiling is on (see `startProfiling`). */
  profiler: KernelProfiler | undefined;
  /**
   * Whether aligned groups of 8 subgroup lanes are 8 consecutive local indices, as the subgroup
   * matmul needs (checked on the device by `initGpu`; false without the subgroups feature).
   */
  subgroupLanesInOrder = false;

  /** Wraps an acquired device; use `initGpu()` instead. */
  constructor(device: GPUDevice, adapterInfo: GPUAdapterInfo, backend: string) {
    this.device = device;
    this.adapterInfo = adapterInfo;
    this.features = new Set(device.features as unknown as Iterable<string>);
    this.limits = device.limits;
    this.backend = backend;
    this.pool = new BufferPool(device);
    this.pipelines = new PipelineCache(device);
    device.addEventListener("uncapturederror", (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.#errors.push(`${error.constructor.name}: ${error.message}`);
    });
    device.lost.then((info) => {
      this.#lost = `GPU device lost (${info.reason}): ${info.message}`;
    });
  }

  /** A readable one-line description of the adapter. */
  get description(): string {
    const info = this.adapterInfo;
    return info.description || [info.vendor, info.architecture, info.device].filter(Boolean)
      .join(" ") ||
      "unknown adapter";
  }

  /** Whether the device has the WebGPU feature `name`. */
  has(name: string): boolean {
    return this.features.has(name);
  }

  #id(object: object): number {
    let id = this.#ids.get(object);
    if (id === undefined) this.#ids.set(object, id = this.#nextId++);
    return id;
  }

  #paramsBuffer(params: Uint32Array | Float32Array | Int32Array): GPUBuffer {
    const words = new Uint32Array(params.buffer, params.byteOffset, params.length);
    const key = words.join(",");
    let buffer = this.#paramBuffers.get(key);
    if (!buffer) {
      if (this.#paramBuffers.size >= 16384) {
        this.flush();
        this.paramsGeneration++;
        for (const old of this.#paramBuffers.values()) old.destroy();
        this.#paramBuffers.clear();
        this.#bindGroups.clear();
      }
      const size = Math.max(16, Math.ceil(words.byteLength / 16) * 16);
      buffer = this.device.createBuffer({
        size,
        usage: GPUBufferUsage.UNIFORM,
        mappedAtCreation: true,
        label: "params",
      });
      new Uint32Array(buffer.getMappedRange()).set(words);
      this.counters.uniformBuffers++;
      buffer.unmap();
      this.#paramBuffers.set(key, buffer);
    }
    return buffer;
  }

  #bindGroup(
    pipeline: GPUComputePipeline,
    group: number,
    buffers: GPUBuffer[],
  ): GPUBindGroup {
    let key = `${this.#id(pipeline)}:${group}`;
    for (const buffer of buffers) key += `,${this.#id(buffer)}`;
    let bindGroup = this.#bindGroups.get(key);
    if (!bindGroup) {
      if (this.#bindGroups.size >= 65536) this.#bindGroups.clear();
      bindGroup = this.device.createBindGroup({
        layout: pipeline.getBindGroupLayout(group),
        entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      this.#bindGroups.set(key, bindGroup);
    }
    return bindGroup;
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
      groups: [this.#bindGroup(pipeline, 0, call.buffers)],
      workgroups: [x, y, z],
    };
    if (call.params) {
      command.groups.push(this.#bindGroup(pipeline, 1, [this.#paramsBuffer(call.params)]));
    }
    this.#capture?.commands.push(command);
    this.#encodeDispatch(command);
  }

  #encodeDispatch(command: DispatchCommand): void {
    if (this.profiler?.full) this.flush();
    const pass = this.profiler ? this.#timedPass(command.name) : this.#computePass();
    pass.setPipeline(command.pipeline);
    command.groups.forEach((group, index) => pass.setBindGroup(index, group));
    pass.dispatchWorkgroups(...command.workgroups);
    if (this.profiler) this.#endPass();
    this.counters.dispatches++;
    if (++this.#recordedDispatches >= this.maxDispatchesPerSubmit) this.flush();
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
    this.pool.beginTracking();
  }

  /**
   * Ends the capture. The pool buffers released while it ran become the captured commands'
   * own (no one else is handed them) until `releaseCaptured` gives them back.
   */
  endCapture(): CapturedCommands {
    const capture = this.#capture;
    if (!capture) throw new GpuRuntimeError("endCapture: no capture is running");
    this.#capture = undefined;
    const owned = this.pool.endTracking();
    return {
      commands: capture.commands,
      owned,
      failure: capture.failure ??
        (capture.generation !== this.paramsGeneration
          ? "the uniform parameter cache was emptied during the capture"
          : undefined),
      generation: capture.generation,
    };
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
      if (command.kind === "dispatch") this.#encodeDispatch(command);
      else if (command.kind === "copy") this.#encodeCopy(command);
      else this.upload(command.buffer, command.source(), command.offset);
    }
  }

  /** Gives the pool buffers owned by `captured` back to the pool (it must not be replayed again). */
  releaseCaptured(captured: CapturedCommands): void {
    this.flush();
    for (const buffer of captured.owned.splice(0)) this.pool.release(buffer);
    captured.failure ??= "its buffers were given back";
  }

  #computePass(): GPUComputePassEncoder {
    if (!this.#pass) {
      this.#encoder ??= this.device.createCommandEncoder();
      this.#pass = this.#encoder.beginComputePass();
    }
    return this.#pass;
  }

  #timedPass(name: string): GPUComputePassEncoder {
    const encoder = this.#endPass();
    this.#pass = encoder.beginComputePass({
      timestampWrites: this.profiler!.timestampWrites(name),
    });
    return this.#pass;
  }

  /**
   * Turns on per-kernel GPU timing (needs `timestamp-query`); returns false where the device
   * lacks it. Read the result with `await gpu.profiler.collect()` and `gpu.profiler.report()`.
   */
  startProfiling(): boolean {
    if (!this.has("timestamp-query")) return false;
    this.flush();
    this.profiler ??= new KernelProfiler(this.device);
    return true;
  }

  #endPass(): GPUCommandEncoder {
    this.#pass?.end();
    this.#pass = undefined;
    return this.#encoder ??= this.device.createCommandEncoder();
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
    const command: CopyCommand = {
      kind: "copy",
      source,
      sourceOffset,
      target,
      targetOffset,
      bytes,
    };
    this.#capture?.commands.push(command);
    this.#encodeCopy(command);
  }

  #encodeCopy(command: CopyCommand): void {
    this.#endPass().copyBufferToBuffer(
      command.source,
      command.sourceOffset,
      command.target,
      command.targetOffset,
      command.bytes,
    );
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.#encoder) return;
    const encoder = this.#endPass();
    this.#encoder = undefined;
    this.#recordedDispatches = 0;
    this.profiler?.resolveInto(encoder);
    this.device.queue.submit([encoder.finish()]);
    this.counters.submits++;
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
      const encoder = this.#endPass();
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
 * Destroys the process's device (every buffer and pipeline of it goes with it) so that the next
 * `initGpu()` acquires a new one. For hosts that run many programs in one process, each with its
 * own device: `deno test` runs every test module with its own globals, and a GPU driver (NVIDIA's,
 * after about 40 modules) stops handing out adapters while the earlier devices live on.
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
  const gpuApi = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpuApi) throw new GpuUnavailableError(`navigator.gpu is missing.\n${NO_ADAPTER_HELP}`);
  const backend = chooseBackend();
  const adapter = await gpuApi.requestAdapter({ powerPreference: options.powerPreference });
  if (!adapter) {
    throw new GpuUnavailableError(
      backend === "vulkan"
        ? `${NO_ADAPTER_HELP}\nVulkan was chosen because a Vulkan driver is installed; if it ` +
          `cannot run here, DENO_WEBGPU_BACKEND=gl selects OpenGL.`
        : NO_ADAPTER_HELP,
    );
  }
  const requiredLimits: Record<string, number> = {};
  for (const name in adapter.limits) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[name];
    if (typeof value === "number") requiredLimits[name] = value;
  }
  const wanted = options.disableOptionalFeatures ? [] : [...OPTIONAL_FEATURES];
  // subgroups may be accepted by requestDevice even where the adapter does not list it (lavapipe).
  let device: GPUDevice | undefined;
  let features = wanted.filter((name) => adapter.features.has(name) || name === "subgroups");
  while (!device) {
    try {
      device = await adapter.requestDevice({
        requiredFeatures: features as GPUFeatureName[],
        requiredLimits,
      });
    } catch (error) {
      if (features.includes("subgroups") && !adapter.features.has("subgroups")) {
        features = features.filter((name) => name !== "subgroups");
      } else if (features.length > 0) {
        features = [];
      } else {
        throw new GpuUnavailableError(
          `requestDevice failed on adapter "${adapter.info.description}": ${error}`,
        );
      }
    }
  }
  const gpu = new Gpu(device, adapter.info, backend);
  if (gpu.has("subgroups")) {
    gpu.subgroupLanesInOrder = await subgroupLanesInOrder(gpu);
    for (const name of Object.keys(gpu.counters) as (keyof RuntimeCounters)[]) {
      gpu.counters[name] = 0; // the check's dispatches and readback are not the caller's
    }
  }
  return gpu;
}
