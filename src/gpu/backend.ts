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
 * Settles the backend before the first adapter request and returns its name: the user's
 * `DENO_WEBGPU_BACKEND`, else "vulkan" on Linux with a Vulkan driver installed (set in the
 * environment so that wgpu starts no other backend), else "auto" (every backend; also in browsers
 * and where environment or read access is not granted: this never prompts for a permission).
 */
export function chooseBackend(): string {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (!deno) return "auto";
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
