/**
 * A `RunFileSystem` for tests that writes for real except where it is told to fail: there a write
 * puts down half its bytes (as a disk filling up does) and then throws the error the operating
 * system would (ENOSPC, EACCES, EROFS, ENOENT), with Deno's message and `code`.
 * @module
 */
import type { RunFileSystem } from "../../src/train/run_folder.ts";

/** An operation of a `RunFileSystem`. */
export type FileOperation = "writeFile" | "mkdir" | "rename";

const MESSAGES: Record<string, string> = {
  ENOSPC: "No space left on device (os error 28)",
  EACCES: "Permission denied (os error 13)",
  EROFS: "Read-only file system (os error 30)",
  ENOENT: "No such file or directory (os error 2)",
};

/** The error Deno throws for `code` on `operation` of `path`. */
export function fileSystemError(code: string, operation: string, path: string): Error {
  const error = new Error(`${MESSAGES[code] ?? code}: ${operation.toLowerCase()} '${path}'`);
  return Object.assign(error, { code });
}

/** Real writes, except those `fails(operation, path)` picks, which fail with `code`. */
export class FailingFileSystem implements RunFileSystem {
  /** Operations that failed, as "operation path". */
  readonly failed: string[] = [];

  /** Fails the operations `fails` picks with the error of `code`. */
  constructor(
    readonly fails: (operation: FileOperation, path: string) => boolean,
    readonly code = "ENOSPC",
  ) {}

  #check(operation: FileOperation, path: string): void {
    if (this.fails(operation, path)) this.#fail(operation, path);
  }

  #fail(operation: FileOperation, path: string): never {
    this.failed.push(`${operation} ${path}`);
    throw fileSystemError(this.code, operation, path);
  }

  /** Writes, or writes half and fails. */
  async writeFile(path: string, data: Uint8Array, options?: { append?: boolean }): Promise<void> {
    if (this.fails("writeFile", path)) {
      await Deno.writeFile(path, data.subarray(0, data.length >> 1), options).catch(() => {});
      this.#fail("writeFile", path);
    }
    await Deno.writeFile(path, data, options);
  }

  /** Creates the folder, or fails. */
  async mkdir(path: string): Promise<void> {
    this.#check("mkdir", path);
    await Deno.mkdir(path, { recursive: true });
  }

  /** Renames, or fails. */
  async rename(from: string, to: string): Promise<void> {
    this.#check("rename", to);
    await Deno.rename(from, to);
  }
}
