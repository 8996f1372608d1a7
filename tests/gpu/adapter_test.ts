/** The adapter descriptions and the software-adapter test of src/gpu/adapter.ts (no device needed). */
import { assertEquals } from "../helpers/assert.ts";
import { adapterDescription, isSoftwareAdapter } from "../../src/gpu/adapter.ts";

const info = (fields: Partial<GPUAdapterInfo>) =>
  ({ vendor: "", architecture: "", device: "", description: "", ...fields }) as GPUAdapterInfo;

Deno.test("adapter: description, else vendor, architecture and device, else unknown", () => {
  assertEquals(adapterDescription(info({ description: "NVIDIA H200" })), "NVIDIA H200");
  assertEquals(
    adapterDescription(info({ vendor: "google", architecture: "swiftshader" })),
    "google swiftshader",
  );
  assertEquals(adapterDescription(info({})), "unknown adapter");
});

Deno.test("adapter: software rasterisers by isFallbackAdapter or by name, GPUs not", () => {
  assertEquals(isSoftwareAdapter(info({ description: "llvmpipe (LLVM 15.0.6, 256 bits)" })), true);
  assertEquals(isSoftwareAdapter(info({ vendor: "google", architecture: "swiftshader" })), true);
  assertEquals(
    isSoftwareAdapter(info({ description: "lavapipe", isFallbackAdapter: false })),
    true,
  );
  assertEquals(isSoftwareAdapter(info({ description: "some CPU", isFallbackAdapter: true })), true);
  assertEquals(
    isSoftwareAdapter(info({ description: "NVIDIA H200", isFallbackAdapter: false })),
    false,
  );
  assertEquals(isSoftwareAdapter(info({ vendor: "nvidia", architecture: "hopper" })), false);
});
