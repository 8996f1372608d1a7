/**
 * Folders in tests: `withTempDir`, a fresh temporary folder for a test's files, removed with its
 * contents afterwards (also when the test fails); `fileNames`, what a folder holds.
 * @module
 */

/** Runs `body` on a new temporary folder and removes the folder afterwards. */
export async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir();
  try {
    return await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The names of the entries of `dir`, sorted. */
export async function fileNames(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name).sort();
}
