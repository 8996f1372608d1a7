/**
 * `gpuTest`: a Deno test that acquires the shared device first and checks afterwards that the
 * device reported no error. Deno's resource sanitiser does not know GPU objects, so it is off.
 * Each test module has its own globals and so its own device: it is destroyed when the module
 * ends, or a GPU driver runs out of adapters part-way through the suite.
 * @module
 */
import { gpu, initGpu, releaseGpu } from "../../src/gpu/device.ts";

globalThis.addEventListener("unload", releaseGpu);

/** Registers a test that runs with the GPU initialised. */
export function gpuTest(name: string, body: () => Promise<void> | void): void {
  Deno.test({
    name,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      await initGpu();
      // Errors left by an earlier failed test belong to that test, not this one.
      await gpu().sync().catch(() => {});
      await body();
      await gpu().sync();
    },
  });
}

/**
 * Notes the kernel of every dispatch from now on into `kernels`, and `kernel:entryPoint` into
 * `entryPoints` (empty them between checks), until `stop()`.
 */
export function watchKernels(): { kernels: string[]; entryPoints: string[]; stop(): void } {
  const kernels: string[] = [];
  const entryPoints: string[] = [];
  const runtime = gpu();
  const dispatch = runtime.dispatch;
  runtime.dispatch = (call) => {
    kernels.push(call.kernel);
    entryPoints.push(`${call.kernel}:${call.entryPoint ?? "main"}`);
    return dispatch.call(runtime, call);
  };
  return { kernels, entryPoints, stop: () => void (runtime.dispatch = dispatch) };
}

/**
 * Runs `body` with the device taken for a GPU (`Gpu.softwareAdapter` false), whichever adapter
 * runs the test, and restores the flag afterwards: for the defaults chosen per adapter class.
 */
export async function asHardwareAdapter(body: () => Promise<void> | void): Promise<void> {
  const device = gpu();
  const software = device.softwareAdapter;
  device.softwareAdapter = false;
  try {
    await body();
  } finally {
    device.softwareAdapter = software;
  }
}
