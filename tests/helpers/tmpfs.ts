/**
 * A small tmpfs for tests of a full disk: mounted where the machine allows (root, or a container
 * with the capability), skipped with a message where `mount -t tmpfs` fails.
 * @module
 */

/** A mounted tmpfs: its folder, and a way to give it more room (freeing space). */
export interface Tmpfs {
  /** Where it is mounted. */
  dir: string;
  /** Changes its size (bytes), as freeing space on a full disk does. */
  resize(bytes: number): Promise<void>;
}

async function run(command: string, args: string[]): Promise<string | undefined> {
  try {
    const result = await new Deno.Command(command, { args, stdout: "null", stderr: "piped" })
      .output();
    return result.success ? undefined : new TextDecoder().decode(result.stderr).trim();
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Runs `body` on a tmpfs of `bytes` (rounded up to 4 KiB pages), unmounted afterwards. Where it
 * cannot be mounted, prints why the test is skipped and returns false.
 */
export async function withTmpfs(
  bytes: number,
  body: (tmpfs: Tmpfs) => Promise<void>,
): Promise<boolean> {
  const dir = await Deno.makeTempDir({ prefix: "dinogpu-tmpfs-" });
  const size = (value: number) => `size=${Math.ceil(value / 4096) * 4096}`;
  const failure = await run("mount", ["-t", "tmpfs", "-o", size(bytes), "tmpfs", dir]);
  if (failure !== undefined) {
    await Deno.remove(dir);
    console.log(`skipped: mount -t tmpfs failed here (${failure})`);
    return false;
  }
  try {
    await body({
      dir,
      resize: async (value) => {
        const why = await run("mount", ["-o", `remount,${size(value)}`, dir]);
        if (why !== undefined) throw new Error(`cannot resize the tmpfs at ${dir}: ${why}`);
      },
    });
  } finally {
    await run("umount", [dir]);
    await Deno.remove(dir, { recursive: true });
  }
  return true;
}
