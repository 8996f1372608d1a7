/**
 * `withTempDir`: a fresh temporary folder for a test's files, removed with its contents afterwards
 * (also when the test fails).
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
