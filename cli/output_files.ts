/**
 * Files the commands write (embeddings, images, curation lists): whole or not at all, checked for
 * room before the work, and a failed write said in one line (`OutputWriteError`).
 * @module
 */
import { dirname } from "node:path";
import {
  checkOutputFolder,
  DENO_FILE_SYSTEM,
  OutputWriteError,
  writeFailureReason,
  writeWhole,
} from "../src/train/run_folder.ts";
/** A one-line `OutputWriteError` for a failed write of `path` (no run, so no checkpoint). */
export function outputWriteError(path: string, error: unknown): OutputWriteError {
  if (error instanceof OutputWriteError) return error;
  const reason = writeFailureReason(error);
  return new OutputWriteError(`cannot write ${path}: ${reason}`, { path, reason, cause: error });
}

/**
 * Writes `bytes` to `path` through a temporary file and a rename (no partial files); a failure
 * is an `OutputWriteError` saying why in one line.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeWhole(DENO_FILE_SYSTEM, path, bytes);
  } catch (error) {
    throw outputWriteError(path, error);
  }
}

/**
 * Checks before the work that the folder of the file `path` can be created and written and has
 * room for `bytes`; throws a one-line `OutputWriteError` when not.
 */
export async function checkOutputFile(path: string, bytes: number, what: string): Promise<void> {
  await checkOutputFolder(dirname(path), bytes, { keep: 1, needs: what });
}

/** An output folder: created on the first write; every file is written whole. */
export class OutputFolder {
  /** The paths written, in order. */
  readonly written: string[] = [];
  #created = false;

  /** The folder `path`. */
  constructor(readonly path: string) {}

  /** Writes `bytes` as the file `name` in the folder; returns its path. */
  async write(name: string, bytes: Uint8Array): Promise<string> {
    if (!this.#created) {
      await Deno.mkdir(this.path, { recursive: true }).catch((error) => {
        throw outputWriteError(this.path, error);
      });
      this.#created = true;
    }
    const path = `${this.path.replace(/\/$/, "")}/${name}`;
    await writeFileAtomic(path, bytes);
    this.written.push(path);
    return path;
  }
}
