// The backend choice of src/gpu/backend.ts, in child processes (it must act before the process's
// first adapter request): where a Vulkan driver is installed, wgpu runs on Vulkan alone and
// glvnd's libEGL (whose exit-time destructor raced Deno's exiting threads) is never loaded.
import { assertEquals, assertTrue } from "../helpers/assert.ts";
import { vulkanDriverInstalled } from "../../src/gpu/backend.ts";

const PROBE = `
import { initGpu } from "${new URL("../../src/gpu/device.ts", import.meta.url).href}";
const gpu = await initGpu();
const maps = await Deno.readTextFile("/proc/self/maps");
console.log(JSON.stringify({ backend: gpu.backend, egl: maps.includes("libEGL") }));
`;

async function probe(env: Record<string, string>): Promise<{ backend: string; egl: boolean }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", PROBE],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
  return JSON.parse(text.split("\n").at(-1)!);
}

Deno.test({
  name: "backend: Vulkan alone where a Vulkan driver is installed; the user's choice wins",
  ignore: Deno.build.os !== "linux" || !vulkanDriverInstalled(),
  async fn() {
    const env = { DENO_WEBGPU_BACKEND: "" };
    const chosen = await probe(env);
    assertEquals(chosen.backend, "vulkan");
    assertTrue(!chosen.egl, "libEGL is not loaded when Vulkan is chosen");
    const named = await probe({ DENO_WEBGPU_BACKEND: "gl" });
    assertEquals(named.backend, "gl");
    assertTrue(named.egl, "the OpenGL backend the user named loads libEGL");
  },
});
