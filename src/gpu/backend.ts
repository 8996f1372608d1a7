/**
 * The wgpu backend Deno's WebGPU runs on (`DENO_WEBGPU_BACKEND`). Left unset, wgpu starts every
 * backend it has, so on Linux it loads glvnd's libEGL for its OpenGL backend even when it then
 * runs on Vulkan. At process exit libEGL's destructor frees its per-thread state while Deno's
 * threads are still exiting and freeing theirs: about one exit in fifteen aborted with
 * "double free or corruption" on Mesa lavapipe (core dumps: the main thread inside libEGL's
 * destructor, another thread in its thread-specific-data cleanup). Choosing Vulkan alone where a
 * Vulkan driver is installed keeps libEGL out of the process; a backend the user names wins.
 * @module
 */

/** Folders the Vulkan loader reads driver manifests from on Linux. */
const VULKAN_DRIVER_FOLDERS = [
  "/usr/share/vulkan/icd.d",
  "/usr/local/share/vulkan/icd.d",
  "/etc/vulkan/icd.d",
];

/** Whether a permission is granted already (never prompts). */
function granted(deno: typeof Deno, descriptor: Deno.PermissionDescriptor): boolean {
  return deno.permissions.querySync(descriptor).state === "granted";
}

/**
 * Whether a Vulkan driver manifest is installed (or named by the loader's variables), as far as
 * the granted permissions let it look.
 */
export function vulkanDriverInstalled(deno: typeof Deno = Deno): boolean {
  for (const variable of ["VK_ICD_FILENAMES", "VK_DRIVER_FILES"]) {
    if (granted(deno, { name: "env", variable }) && deno.env.get(variable)) return true;
  }
  for (const folder of VULKAN_DRIVER_FOLDERS) {
    if (!granted(deno, { name: "read", path: folder })) continue;
    try {
      for (const entry of deno.readDirSync(folder)) {
        if (entry.name.endsWith(".json")) return true;
      }
    } catch {
      // missing folder or no read permission: look at the next one
    }
  }
  return false;
}

/**
 * Gives Mesa a runtime folder where `XDG_RUNTIME_DIR` is unset on Linux: without one its software
 * drivers print "error: XDG_RUNTIME_DIR is invalid or not set in the environment" on every run
 * (on stderr, where a script reading the CLI's messages finds it). A new private temporary folder
 * (mode 0700, removed at exit) is set in the environment; nothing happens where the variable is
 * set, or environment or write access is not granted (this never prompts).
 */
export function ensureRuntimeFolder(deno: typeof Deno = Deno): void {
  try {
    if (deno.build.os !== "linux") return;
    if (!granted(deno, { name: "env", variable: "XDG_RUNTIME_DIR" })) return;
    if (deno.env.get("XDG_RUNTIME_DIR")) return;
    if (!granted(deno, { name: "write" })) return;
    const folder = deno.makeTempDirSync({ prefix: "dinogpu-runtime-" });
    deno.env.set("XDG_RUNTIME_DIR", folder);
    globalThis.addEventListener("unload", () => {
      try {
        deno.removeSync(folder, { recursive: true });
      } catch {
        // already gone, or not ours to remove any more
      }
    });
  } catch {
    // no temporary folder: Mesa prints its line, nothing else changes
  }
}

/**
 * Settles the backend before the first adapter request and returns its name: the user's
 * `DENO_WEBGPU_BACKEND`, else "vulkan" on Linux with a Vulkan driver installed (set in the
 * environment so that wgpu starts no other backend), else "auto" (every backend; also in browsers
 * and where environment or read access is not granted: this never prompts for a permission).
 */
export function chooseBackend(): string {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (!deno) return "auto";
  ensureRuntimeFolder(deno);
  try {
    if (!granted(deno, { name: "env", variable: "DENO_WEBGPU_BACKEND" })) return "auto";
    const named = deno.env.get("DENO_WEBGPU_BACKEND");
    if (named) return named;
    if (deno.build.os !== "linux" || !vulkanDriverInstalled(deno)) return "auto";
    deno.env.set("DENO_WEBGPU_BACKEND", "vulkan");
    return "vulkan";
  } catch {
    return "auto";
  }
}
