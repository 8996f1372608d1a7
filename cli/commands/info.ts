/**
 * `dinogpu info`: the adapter, backend, limits and features this process gets.
 * @module
 */
import { Command } from "commander";
import { initGpu } from "../../src/gpu/device.ts";

/** Collects the facts `info` prints. */
export async function gpuInfo(): Promise<Record<string, unknown>> {
  const gpu = await initGpu();
  const limits: Record<string, number> = {};
  for (const name in gpu.limits) {
    const value = (gpu.limits as unknown as Record<string, unknown>)[name];
    if (typeof value === "number") limits[name] = value;
  }
  return {
    adapter: gpu.description,
    vendor: gpu.adapterInfo.vendor,
    architecture: gpu.adapterInfo.architecture,
    backend: gpu.backend,
    fallbackAdapter: (gpu.adapterInfo as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
      false,
    features: [...gpu.features].sort(),
    softwareAdapter: gpu.softwareAdapter,
    subgroupMatmul: gpu.subgroupLanesInOrder,
    limits,
    runtime: `Deno ${Deno.version.deno}`,
  };
}

/** The `info` command. */
export function infoCommand() {
  return new Command("info")
    .description("print the WebGPU adapter, backend, limits and features")
    .option("--json", "print one JSON object")
    .action(async (options) => {
      const info = await gpuInfo();
      if (options.json) {
        console.log(JSON.stringify(info));
        return;
      }
      console.log(`adapter   ${info.adapter}${info.softwareAdapter ? " (software)" : ""}`);
      console.log(`backend   ${info.backend} (DENO_WEBGPU_BACKEND=vulkan|gl selects one)`);
      console.log(`runtime   ${info.runtime}`);
      console.log(`features  ${(info.features as string[]).join(", ") || "(none)"}`);
      const subgroups = (info.features as string[]).includes("subgroups");
      console.log(
        `matmul    ${
          !info.softwareAdapter
            ? "vec4 kernels (the default on a GPU; --tune on train and bench model times them all)"
            : info.subgroupMatmul
            ? "subgroup kernels (lane layout checked on the device)"
            : subgroups
            ? "vec4 kernels (subgroup lanes out of the order the subgroup kernel needs)"
            : "vec4 kernels (no subgroups feature)"
        }`,
      );
      console.log("limits");
      for (const [name, value] of Object.entries(info.limits as Record<string, number>)) {
        console.log(`  ${name.padEnd(44)} ${value}`);
      }
    });
}
