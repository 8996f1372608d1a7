/**
 * `gpuTest`: a Deno test that acquires the shared device first and checks afterwards that the
 * device reported no error. Deno's resource sanitiser does not know GPU objects, so it is off.
 * @module
 */
import { gpu, initGpu } from "../../src/gpu/device.ts";

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
