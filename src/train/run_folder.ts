/**
 * Every file a training run writes (checkpoints, `latest`, metrics.jsonl, curves.png) goes through
 * a `RunFileSystem`, so a test can make any write fail, and every failure to write becomes one
 * `OutputWriteError`: what could not be written, why, the last good checkpoint (from `latest`) and
 * how to continue. Files are written whole or not at all: a new file through a temporary name and
 * a rename, an appended line cut back off when it could not be written whole. Also the checks
 * before a run (the folder is writable, its file system has room) and the removal of temporary
 * files a killed run left behind.
 * @module
 */
import { statfs } from "node:fs/promises";
import { join } from "node:path";

/** The pointer file naming the newest complete checkpoint folder of a run. */
export const LATEST = "latest";

/** The writes of a run; `DENO_FILE_SYSTEM` does them, a test's fake can make any of them fail. */
export interface RunFileSystem {
  /** Writes `data` to `path` (replacing it, or appended with `append`). */
  writeFile(path: string, data: Uint8Array, options?: { append?: boolean }): Promise<void>;
  /** Creates the folder `path` and its parents when missing. */
  mkdir(path: string): Promise<void>;
  /** Renames `from` to `to`, replacing `to`. */
  rename(from: string, to: string): Promise<void>;
}

/** The real file system, through Deno. */
export const DENO_FILE_SYSTEM: RunFileSystem = {
  writeFile: (path, data, options) => Deno.writeFile(path, data, options),
  mkdir: (path) => Deno.mkdir(path, { recursive: true }),
  rename: (from, to) => Deno.rename(from, to),
};

/**
 * A file of a run could not be written (no space, no permission, a read-only file system, the
 * folder gone), or the output folder cannot take the run. The message is one line: what, why,
 * the last good checkpoint and what to do.
 */
export class OutputWriteError extends Error {
  /** The file or folder that could not be written. */
  readonly path: string;
  /** Why, in words ("no space left on device"). */
  readonly reason: string;
  /** The last complete checkpoint of the run, if it has one. */
  readonly lastCheckpoint: string | undefined;

  /** Creates the error; `message` is the whole line, `cause` the file system's error. */
  constructor(
    message: string,
    details: { path: string; reason: string; lastCheckpoint?: string; cause?: unknown },
  ) {
    super(message, { cause: details.cause });
    this.name = "OutputWriteError";
    this.path = details.path;
    this.reason = details.reason;
    this.lastCheckpoint = details.lastCheckpoint;
  }
}

/** Why a file-system error happened, in lower-case words without the os error number. */
export function writeFailureReason(error: unknown): string {
  const code = (error as { code?: string })?.code;
  const known: Record<string, string> = {
    ENOSPC: "no space left on device",
    EDQUOT: "disk quota exceeded",
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    EROFS: "read-only file system",
    ENOENT: "the folder is gone",
  };
  if (code && known[code]) return known[code];
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/ \(os error \d+\).*$/s, "").replace(/\s+/g, " ").toLowerCase();
}

/** What to do about a failure of kind `reason` in the folder `out` before trying again. */
function remedy(reason: string, out: string): string {
  if (/space|quota/.test(reason)) return "free some space";
  if (/gone/.test(reason)) return `create ${out} again`;
  return `make ${out} writable`;
}

/** The folder `latest` in `out` names, if it names one that exists. */
export async function latestCheckpointIn(out: string): Promise<string | undefined> {
  try {
    const name = (await Deno.readTextFile(join(out, LATEST))).trim();
    const folder = join(out, name);
    return name && (await Deno.stat(folder)).isDirectory ? folder : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The error for a failed write of `what` (a path, or words naming one) in the run folder `out`:
 * one line with the reason, the last good checkpoint and how to continue.
 */
export async function writeFailure(
  out: string,
  what: string,
  error: unknown,
): Promise<OutputWriteError> {
  if (error instanceof OutputWriteError && error.lastCheckpoint !== undefined) return error;
  if (error instanceof OutputWriteError) error = error.cause ?? error.reason;
  const reason = writeFailureReason(error);
  const lastCheckpoint = await latestCheckpointIn(out);
  const then = lastCheckpoint
    ? `the last good checkpoint is ${lastCheckpoint}; ${remedy(reason, out)}, then continue ` +
      `with --resume ${out}`
    : `no checkpoint was written; ${remedy(reason, out)} and start the run again`;
  return new OutputWriteError(`cannot write ${what}: ${reason}; ${then}`, {
    path: what,
    reason,
    lastCheckpoint,
    cause: error,
  });
}

/**
 * Writes `data` as `path` whole: into a temporary file beside it, then renamed over it; on a
 * failure the temporary file is removed and the error rethrown (`path` untouched).
 */
export async function writeWhole(
  fileSystem: RunFileSystem,
  path: string,
  data: Uint8Array,
): Promise<void> {
  const temporary = `${path}.tmp-${Deno.pid}`;
  try {
    await fileSystem.writeFile(temporary, data);
    await fileSystem.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/**
 * Appends `text` to `path` whole: when it could not be written whole the file is cut back to its
 * length before, and the error rethrown.
 */
export async function appendWhole(
  fileSystem: RunFileSystem,
  path: string,
  text: string,
): Promise<void> {
  const before = await Deno.stat(path).then((info) => info.size, () => undefined);
  try {
    await fileSystem.writeFile(path, new TextEncoder().encode(text), { append: true });
  } catch (error) {
    if (before !== undefined) await Deno.truncate(path, before).catch(() => {});
    throw error;
  }
}

/** Bytes free to this user on the file system holding `path`, when the system says. */
export async function freeBytes(path: string): Promise<number | undefined> {
  try {
    const info = await statfs(path);
    return Number(info.bavail) * Number(info.bsize);
  } catch {
    return undefined;
  }
}

/** A number of bytes for a person: "7.3 MB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

/**
 * Temporary files and folders the writes of a run make while they work (and a killed run leaves
 * behind); only these names, as `--out` may be a folder holding a person's own files.
 */
const TEMPORARY = new RegExp(
  "^(\\.step-\\d+\\.tmp-\\d+|\\.(latest|write-check)\\.tmp-\\d+|" +
    "(metrics(\\.interrupted)?\\.jsonl|curves\\.png)\\.(tmp(-\\d+)?|partial))$",
);

/**
 * Removes the temporary checkpoint folders and files in `out` that another (killed) process left
 * (`.step-*.tmp-*`, `.latest.tmp-*`, `metrics.jsonl.tmp*`, `curves.png.tmp-*` or `.partial`);
 * returns their names.
 */
export async function removeStaleTemporaries(out: string): Promise<string[]> {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(out));
  } catch {
    return removed;
  }
  for (const entry of entries) {
    if (!TEMPORARY.test(entry.name) || entry.name.endsWith(`.tmp-${Deno.pid}`)) continue;
    try {
      await Deno.remove(join(out, entry.name), { recursive: true });
      removed.push(entry.name);
    } catch {
      // not ours to remove (permission): left for the person, who is told of the others
    }
  }
  return removed.sort();
}

/**
 * Checks before a run that `out` can be created and written, and that its file system has room
 * for one checkpoint of `checkpointBytes` (or what `needs` names); throws an `OutputWriteError`
 * saying what is missing. Returns a warning when there is room for fewer than `keep` more
 * checkpoints (a run keeps two and writes the next beside them), otherwise undefined.
 */
export async function checkOutputFolder(
  out: string,
  checkpointBytes: number,
  options: { fileSystem?: RunFileSystem; keep?: number; needs?: string } = {},
): Promise<string | undefined> {
  const fileSystem = options.fileSystem ?? DENO_FILE_SYSTEM;
  const probe = join(out, `.write-check.tmp-${Deno.pid}`);
  try {
    await fileSystem.mkdir(out);
    await fileSystem.writeFile(probe, new Uint8Array(1));
  } catch (error) {
    const reason = writeFailureReason(error);
    throw new OutputWriteError(
      `cannot write to the output folder ${out}: ${reason}; ${remedy(reason, out)} or choose ` +
        `another --out`,
      { path: out, reason, cause: error },
    );
  } finally {
    await Deno.remove(probe).catch(() => {});
  }
  const free = await freeBytes(out);
  if (free === undefined) return undefined;
  const size = formatBytes(checkpointBytes);
  if (free < checkpointBytes) {
    const reason = "no space for a checkpoint";
    throw new OutputWriteError(
      `the output folder ${out} has ${formatBytes(free)} free, and ` +
        `${options.needs ?? "one checkpoint of this model"} needs about ${size}; free some ` +
        `space or choose another --out`,
      { path: out, reason, lastCheckpoint: await latestCheckpointIn(out) },
    );
  }
  const keep = options.keep ?? 3;
  if (free < keep * checkpointBytes) {
    const room = Math.floor(free / checkpointBytes);
    return `${out} has ${formatBytes(free)} free, room for ${room} checkpoint(s) of about ` +
      `${size}; the run keeps two and writes the next beside them, so it needs ` +
      `${formatBytes(keep * checkpointBytes)} more and may stop for lack of space`;
  }
  return undefined;
}
