/**
 * The command stream of a device: one command encoder with one open compute pass at a time,
 * dispatches and copies recorded into it, and submits (every `maxDispatchesPerSubmit` dispatches,
 * and whenever the runtime flushes). With a profiler, each dispatch gets a pass of its own with
 * timestamp writes.
 * @module
 */
import type { CopyCommand, DispatchCommand } from "./capture.ts";
import type { KernelConstants, KernelName } from "./pipeline_cache.ts";
import type { KernelProfiler } from "./profiler.ts";

/** One kernel launch. */
export interface DispatchCall {
  /** Kernel name: its path below kernels/ without `.wgsl` (`matmul/subgroup`). */
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

/** The command encoder of a device, its open compute pass, and submitting them. */
export class CommandStream {
  readonly #device: GPUDevice;
  readonly #counters: RuntimeCounters;
  #encoder: GPUCommandEncoder | undefined;
  #pass: GPUComputePassEncoder | undefined;
  #recordedDispatches = 0;
  /** Dispatches recorded before the stream submits on its own. */
  maxDispatchesPerSubmit = 512;
  /** Per-kernel GPU timer, when profiling is on: each dispatch then gets a timed pass. */
  profiler: KernelProfiler | undefined;

  /** Creates the stream of `device`, counting dispatches and submits into `counters`. */
  constructor(device: GPUDevice, counters: RuntimeCounters) {
    this.#device = device;
    this.#counters = counters;
  }

  /** Records a dispatch (pipeline, bind groups, workgroups) into the compute pass. */
  encodeDispatch(command: DispatchCommand): void {
    if (this.profiler?.full) this.flush();
    const pass = this.profiler ? this.#timedPass(command.name) : this.#computePass();
    pass.setPipeline(command.pipeline);
    command.groups.forEach((group, index) => pass.setBindGroup(index, group));
    pass.dispatchWorkgroups(...command.workgroups);
    if (this.profiler) this.endPass();
    this.#counters.dispatches++;
    if (++this.#recordedDispatches >= this.maxDispatchesPerSubmit) this.flush();
  }

  /** Records a buffer-to-buffer copy after the work recorded so far. */
  encodeCopy(command: CopyCommand): void {
    this.endPass().copyBufferToBuffer(
      command.source,
      command.sourceOffset,
      command.target,
      command.targetOffset,
      command.bytes,
    );
  }

  #computePass(): GPUComputePassEncoder {
    if (!this.#pass) {
      this.#encoder ??= this.#device.createCommandEncoder();
      this.#pass = this.#encoder.beginComputePass();
    }
    return this.#pass;
  }

  #timedPass(name: string): GPUComputePassEncoder {
    const encoder = this.endPass();
    this.#pass = encoder.beginComputePass({
      timestampWrites: this.profiler!.timestampWrites(name),
    });
    return this.#pass;
  }

  /** Ends the open compute pass (if any) and returns the encoder, for copies after it. */
  endPass(): GPUCommandEncoder {
    this.#pass?.end();
    this.#pass = undefined;
    return this.#encoder ??= this.#device.createCommandEncoder();
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.#encoder) return;
    const encoder = this.endPass();
    this.#encoder = undefined;
    this.#recordedDispatches = 0;
    this.profiler?.resolveInto(encoder);
    this.#device.queue.submit([encoder.finish()]);
    this.#counters.submits++;
  }
}
