/**
 * Finding a WebGPU adapter and device: the backend, the adapter's own limits, the optional
 * features (f16, timestamps, subgroups, with lavapipe's unlisted subgroups tried too) and what to
 * install when there is no adapter.
 * @module
 */
import { chooseBackend } from "./backend.ts";
import { GpuUnavailableError } from "./errors.ts";

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

/**
 * Asks `navigator.gpu` for an adapter (on the backend `chooseBackend` settles) and a device with
 * the adapter's own limits and the optional features it has; throws `GpuUnavailableError` saying
 * what to install when there is none.
 */
export async function requestGpuDevice(
  options: GpuOptions,
): Promise<{ device: GPUDevice; adapterInfo: GPUAdapterInfo; backend: string }> {
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
  return { device, adapterInfo: adapter.info, backend };
}

/** A readable one-line description of an adapter: its description, else vendor, architecture and device. */
export function adapterDescription(info: GPUAdapterInfo): string {
  return info.description || [info.vendor, info.architecture, info.device].filter(Boolean)
    .join(" ") ||
    "unknown adapter";
}

/**
 * Whether an adapter is a software rasteriser on the CPU (Mesa's llvmpipe / lavapipe,
 * SwiftShader): it says so (`isFallbackAdapter`, which Deno sets for a CPU device) or its
 * description names one. Kernel defaults measured only on such adapters (the subgroup matmul) are
 * kept to them.
 */
export function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  return info.isFallbackAdapter === true ||
    /llvmpipe|lavapipe|swiftshader/i.test(adapterDescription(info));
}
