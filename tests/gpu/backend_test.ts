// The backend choice of src/gpu/backend.ts, in child processes (it must act before the process's
// first adapter request): where a Vulkan driver is installed, wgpu runs on Vulkan alone and
// glvnd's libEGL (whose exit-time destructor raced Deno's exiting threads) is never loaded.
import { assertEquals, assertTrue } from "../helpers/assert.ts";
import { vulkanDriverInstalled } from "../../src/gpu/backend.ts";

// Prints the backend chosen, then whether a device started on it and what the process loaded.
const PROBE = `
import { chooseBackend } from "${new URL("../../src/gpu/backend.ts", import.meta.url).href}";
import { initGpu } from "${new URL("../../src/gpu/device.ts", import.meta.url).href}";
const backend = chooseBackend();
let started = false;
let software = false;
try {
  const gpu = await initGpu();
  started = true;
  software = gpu.adapterInfo.isFallbackAdapter;
} catch {
  // a backend the driver cannot run compute on (NVIDIA's EGL in a VM): no device
}
const maps = await Deno.readTextFile("/proc/self/maps");
console.log(JSON.stringify({ backend, started, software, egl: maps.includes("libEGL") }));
`;

interface Probe {
  backend: string;
  started: boolean;
  software: boolean;
  egl: boolean;
}

async function probe(env: Record<string, string>): Promise<Probe> {
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
    const chosen = await probe({ DENO_WEBGPU_BACKEND: "" });
    assertEquals(chosen.backend, "vulkan");
    assertTrue(chosen.started, "a device starts on Vulkan");
    // Mesa's lavapipe, where the exit race was seen, needs no libEGL; NVIDIA's Vulkan driver
    // (libGLX_nvidia) loads it itself whatever the backend.
    if (chosen.software) assertTrue(!chosen.egl, "libEGL is not loaded when Vulkan is chosen");
    const named = await probe({ DENO_WEBGPU_BACKEND: "gl" });
    assertEquals(named.backend, "gl");
    assertTrue(named.egl, "the OpenGL backend the user named loads libEGL");
    // Mesa's llvmpipe runs compute on OpenGL; a GPU driver's EGL may not offer it.
    if (chosen.software) assertTrue(named.started, "a device starts on OpenGL (llvmpipe)");
  },
});

Deno.test({
  name: "backend: without XDG_RUNTIME_DIR a private runtime folder is made, used and removed",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const script = `
import { initGpu } from "${new URL("../../src/gpu/device.ts", import.meta.url).href}";
await initGpu();
console.log(JSON.stringify(Deno.env.get("XDG_RUNTIME_DIR") ?? null));
`;
    const env = { ...Deno.env.toObject() };
    delete env.XDG_RUNTIME_DIR;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assertEquals(output.code, 0, stderr);
    const folder = JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!);
    assertTrue(typeof folder === "string" && folder.includes("dinogpu-runtime-"), `got ${folder}`);
    assertTrue(!stderr.includes("XDG_RUNTIME_DIR"), `Mesa complained: ${stderr}`);
    let exists = true;
    try {
      Deno.statSync(folder);
    } catch {
      exists = false;
    }
    assertTrue(!exists, `${folder} is left after the process ended`);
  },
});
