/**
 * Compute pipelines cached by WGSL source, entry point and override constants. Pipeline
 * creation is synchronous in Deno, so pipelines are made once (ideally at start-up) and reused.
 * @module
 */
import { KernelCompileError } from "./errors.ts";
import { KERNEL_SOURCES } from "./kernel_sources.generated.ts";

/** Names of the kernel files in `kernels/` (without `.wgsl`), or of kernels registered at run time. */
export type KernelName = keyof typeof KERNEL_SOURCES | `extra:${string}`;

const extraSources = new Map<string, string>();

/**
 * Registers WGSL source under the name `extra:<name>` (kernels written outside kernels/, such as a
 * user's own or a test's). Registering the same name twice with other source is refused.
 */
export function registerKernelSource(name: string, source: string): KernelName {
  const key = `extra:${name}` as const;
  const existing = extraSources.get(key);
  if (existing !== undefined && existing !== source) {
    throw new Error(`Kernel "${key}" is already registered with other source`);
  }
  extraSources.set(key, source);
  return key;
}

/** Override constants of a pipeline. */
export type KernelConstants = Record<string, number>;

/** What identifies one pipeline. */
export interface PipelineKey {
  /** Kernel file name, `kernels/<kernel>.wgsl`. */
  kernel: KernelName;
  /** Entry point; `main` when omitted. */
  entryPoint?: string;
  /** Override constants. */
  constants?: KernelConstants;
}

/** Whether the WGSL `enable subgroups;` directive must be removed (Deno's naga rejects it). */
function stripsEnableSubgroups(): boolean {
  return typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
}

/** The WGSL text of a kernel as this runtime compiles it. */
export function kernelSource(kernel: KernelName): string {
  const source = kernel.startsWith("extra:")
    ? extraSources.get(kernel)
    : KERNEL_SOURCES[kernel as keyof typeof KERNEL_SOURCES];
  if (source === undefined) throw new Error(`Unknown kernel "${kernel}"`);
  return stripsEnableSubgroups() ? source.replace(/^\s*enable subgroups;\s*$/m, "") : source;
}

/** A cache of compute pipelines for one device. */
export class PipelineCache {
  readonly #device: GPUDevice;
  readonly #modules = new Map<string, GPUShaderModule>();
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  readonly #pending: Promise<void>[] = [];
  #failure: KernelCompileError | undefined;

  /** Creates a cache on `device`. */
  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** Number of pipelines created so far. */
  get size(): number {
    return this.#pipelines.size;
  }

  /** Returns the cached pipeline for `key`, creating it on first use. */
  get(key: PipelineKey): GPUComputePipeline {
    const entryPoint = key.entryPoint ?? "main";
    const constants = key.constants ?? {};
    const cacheKey = `${key.kernel}|${entryPoint}|${
      Object.keys(constants).sort().map((name) => `${name}=${constants[name]}`).join(",")
    }`;
    const cached = this.#pipelines.get(cacheKey);
    if (cached) return cached;
    const label = `${key.kernel}:${entryPoint}`;
    this.#device.pushErrorScope("validation");
    let module = this.#modules.get(key.kernel);
    if (!module) {
      module = this.#device.createShaderModule({ code: kernelSource(key.kernel), label });
      this.#modules.set(key.kernel, module);
    }
    const pipeline = this.#device.createComputePipeline({
      layout: "auto",
      label,
      compute: { module, entryPoint, constants },
    });
    this.#pending.push(
      this.#device.popErrorScope().then((error) => {
        if (error && !this.#failure) {
          this.#failure = new KernelCompileError(
            `${label} ${JSON.stringify(constants)}`,
            error.message,
          );
        }
      }),
    );
    this.#pipelines.set(cacheKey, pipeline);
    return pipeline;
  }

  /** Waits for the compile results so far and throws the first compile error, if any. */
  async check(): Promise<void> {
    await Promise.all(this.#pending.splice(0));
    this.throwIfFailed();
  }

  /** Throws the first compile error seen so far (synchronously, without waiting). */
  throwIfFailed(): void {
    if (this.#failure) {
      const failure = this.#failure;
      this.#failure = undefined;
      throw failure;
    }
  }
}
