// The run folder's writes: whole files or none, a one-line error naming the last good checkpoint,
// the checks before a run, and the removal of what a killed run left. No GPU.
import { join } from "node:path";
import {
  appendWhole,
  checkOutputFolder,
  freeBytes,
  LATEST,
  OutputWriteError,
  removeStaleTemporaries,
  writeFailure,
  writeFailureReason,
  writeWhole,
} from "../../src/train/run_folder.ts";
import { assertEquals, assertRejects, assertTrue } from "../helpers/assert.ts";
import { FailingFileSystem, fileSystemError } from "../helpers/failing_file_system.ts";
import { fileNames } from "../helpers/temp_dir.ts";

Deno.test("run folder: the reason of each file-system error, in words", () => {
  assertEquals(
    writeFailureReason(fileSystemError("ENOSPC", "writeFile", "/x")),
    "no space left on device",
  );
  assertEquals(writeFailureReason(fileSystemError("EACCES", "mkdir", "/x")), "permission denied");
  assertEquals(
    writeFailureReason(fileSystemError("EROFS", "rename", "/x")),
    "read-only file system",
  );
  assertEquals(
    writeFailureReason(fileSystemError("ENOENT", "writeFile", "/x")),
    "the folder is gone",
  );
  assertEquals(
    writeFailureReason(new Error("Input/output error (os error 5): writefile '/x'")),
    "input/output error",
  );
});

Deno.test("run folder: a failed write names the last good checkpoint and how to resume", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const none = await writeFailure(dir, "x", fileSystemError("ENOSPC", "writeFile", "x"));
    assertEquals(
      none.message,
      "cannot write x: no space left on device; no checkpoint was written; free some space and " +
        "start the run again",
    );
    assertEquals(none.lastCheckpoint, undefined);
    await Deno.mkdir(join(dir, "step-00000008"));
    await Deno.writeTextFile(join(dir, LATEST), "step-00000008\n");
    const error = await writeFailure(dir, "y", fileSystemError("EACCES", "writeFile", "y"));
    assertEquals(
      error.message,
      `cannot write y: permission denied; the last good checkpoint is ${dir}/step-00000008; ` +
        `make ${dir} writable, then continue with --resume ${dir}`,
    );
    assertEquals(error.lastCheckpoint, join(dir, "step-00000008"));
    assertTrue(!error.message.includes("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run folder: writeWhole and appendWhole leave whole files or the old ones", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "curves.png");
    await Deno.writeTextFile(path, "old");
    const full = new FailingFileSystem((operation) => operation === "writeFile");
    await assertRejects(() => writeWhole(full, path, new Uint8Array(100)), Error, "No space");
    assertEquals(await Deno.readTextFile(path), "old");
    const renameFails = new FailingFileSystem((operation) => operation === "rename", "EROFS");
    await assertRejects(
      () => writeWhole(renameFails, path, new Uint8Array(100)),
      Error,
      "Read-only",
    );
    assertEquals(await fileNames(dir), ["curves.png"]);
    const metrics = join(dir, "metrics.jsonl");
    await Deno.writeTextFile(metrics, '{"step":1}\n');
    await assertRejects(() => appendWhole(full, metrics, '{"step":2,"loss":6.9}\n'), Error);
    assertEquals(await Deno.readTextFile(metrics), '{"step":1}\n', "the half line is cut off");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run folder: temporary folders of a killed run are removed, others kept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const name of [".step-00000016.tmp-4242", "step-00000008"]) {
      await Deno.mkdir(join(dir, name));
      await Deno.writeTextFile(join(dir, name, "checkpoint.json"), "{}");
    }
    const files = [".latest.tmp-4242", "curves.png.partial", "metrics.jsonl.tmp", "latest"];
    for (const name of [...files, "notes.tmp", "photo.png.partial"]) {
      await Deno.writeTextFile(join(dir, name), "x");
    }
    await Deno.mkdir(join(dir, `.step-00000024.tmp-${Deno.pid}`)); // this process's own
    assertEquals(await removeStaleTemporaries(dir), [
      ".latest.tmp-4242",
      ".step-00000016.tmp-4242",
      "curves.png.partial",
      "metrics.jsonl.tmp",
    ]);
    assertEquals(await fileNames(dir), [
      `.step-00000024.tmp-${Deno.pid}`,
      "latest",
      "notes.tmp",
      "photo.png.partial",
      "step-00000008",
    ], "a person's own files are kept");
    assertEquals(await removeStaleTemporaries(join(dir, "missing")), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run folder: the check before a run wants a writable folder with room", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const free = await freeBytes(dir);
    assertTrue(free !== undefined && free > 0, `free ${free}`);
    assertEquals(await checkOutputFolder(join(dir, "run"), 1000), undefined);
    assertEquals(await fileNames(join(dir, "run")), [], "the probe file is removed");
    const tooBig = await assertRejects(
      () => checkOutputFolder(join(dir, "run"), free! * 2),
      OutputWriteError,
      "free, and one checkpoint of this model needs about",
    );
    assertTrue(tooBig.message.endsWith("free some space or choose another --out"), tooBig.message);
    const warning = await checkOutputFolder(join(dir, "run"), free! / 2.5, { keep: 3 });
    assertTrue(warning?.includes("room for 2 checkpoint(s)"), warning);
    const readOnly = new FailingFileSystem(() => true, "EROFS");
    await assertRejects(
      () => checkOutputFolder(join(dir, "other"), 1000, { fileSystem: readOnly }),
      OutputWriteError,
      `cannot write to the output folder ${dir}/other: read-only file system; make ${dir}/other ` +
        "writable or choose another --out",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
