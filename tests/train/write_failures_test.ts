// A write that fails during training (a full disk, no permission, a read-only file system, the
// folder gone) at each write point: the run ends with one line naming the last good checkpoint,
// no temporary folder stays, that checkpoint still loads, and resuming from it trains the same
// losses as a run never interrupted.
import { join } from "node:path";
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from "../../src/train/checkpoint.ts";
import { DinoTrainer } from "../../src/train/dino_trainer.ts";
import { OutputWriteError, runDinoTraining } from "../../src/train/run.ts";
import { assertEquals, assertRejects, assertTrue } from "../helpers/assert.ts";
import { FailingFileSystem, type FileOperation } from "../helpers/failing_file_system.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { tinyConfig, tinyTrain as train } from "../helpers/tiny_dino.ts";
import { fileNames } from "../helpers/temp_dir.ts";

/** Asserts that `error` is one line naming `last` (or no checkpoint) and `--resume dir`. */
function assertOneLine(error: Error, dir: string, last: string | undefined): void {
  assertTrue(!error.message.includes("\n"), error.message);
  if (last) {
    assertTrue(error.message.includes(`the last good checkpoint is ${last};`), error.message);
    assertTrue(error.message.endsWith(`then continue with --resume ${dir}`), error.message);
  } else {
    assertTrue(error.message.includes("no checkpoint was written"), error.message);
  }
}

const WRITE_POINTS: [string, string, (operation: FileOperation, path: string) => boolean][] = [
  [
    "checkpoint tensors",
    "ENOSPC",
    (op, path) => op === "writeFile" && path.endsWith(".safetensors"),
  ],
  ["checkpoint JSON", "EACCES", (op, path) => op === "writeFile" && path.endsWith(".json")],
  ["checkpoint folder", "EROFS", (op, path) => op === "rename" && /step-\d+$/.test(path)],
  ["latest (its file)", "ENOSPC", (op, path) => op === "writeFile" && path.includes(".latest.tmp")],
  ["latest (its rename)", "ENOENT", (op, path) => op === "rename" && path.endsWith("/latest")],
];

gpuTest("write failures: at each write point of a checkpoint the previous one stays", async () => {
  const trainer = new DinoTrainer(tinyConfig("unused"), 8);
  try {
    for (const [point, code, fails] of WRITE_POINTS) {
      const dir = await Deno.makeTempDir();
      try {
        const fileSystem = new FailingFileSystem(fails, code);
        trainer.step = 3;
        const first = await saveCheckpoint(trainer, dir);
        trainer.step = 4;
        const error = await assertRejects(
          () => saveCheckpoint(trainer, dir, {}, fileSystem),
          OutputWriteError,
          "cannot write ",
        );
        assertEquals(fileSystem.failed.length, 1, point);
        assertOneLine(error, dir, first);
        assertEquals(await fileNames(dir), ["latest", "step-00000003"], `${point}: left behind`);
        assertEquals(await latestCheckpoint(dir), first);
        const restored = new DinoTrainer(tinyConfig(dir), 8);
        assertEquals((await loadCheckpoint(restored, dir)).step, 3, point);
        restored.dispose();
        // the very first checkpoint failing: no checkpoint to name
        const empty = join(dir, "empty");
        const none = await assertRejects(
          () => saveCheckpoint(trainer, empty, {}, new FailingFileSystem(fails, code)),
          OutputWriteError,
        );
        assertOneLine(none, empty, undefined);
        assertEquals(await fileNames(empty), [], `${point}: left in an empty folder`);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  } finally {
    trainer.dispose();
  }
});

gpuTest(
  "write failures: a run stopped by a failed metrics line, then checkpoint, resumes exactly",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const straight = await runDinoTraining({ config: tinyConfig(join(dir, "straight")), train });
      assertEquals(straight.steps, 14); // 7 steps per epoch
      const out = join(dir, "failing");
      // the 10th metrics line (step 10) does not fit: half of it is written, then ENOSPC
      let appends = 0;
      const metricsFull = new FailingFileSystem(
        (op, path) => op === "writeFile" && path.endsWith("metrics.jsonl") && ++appends === 10,
      );
      const lineError = await assertRejects(
        () => runDinoTraining({ config: tinyConfig(out), train, fileSystem: metricsFull }),
        OutputWriteError,
        `cannot write ${out}/metrics.jsonl: no space left on device`,
      );
      assertOneLine(lineError, out, join(out, "step-00000007"));
      const lines = (await Deno.readTextFile(join(out, "metrics.jsonl"))).trim().split("\n");
      assertEquals(lines.map((line) => JSON.parse(line).step), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
      // resumed, the step-14 checkpoint's tensors do not fit
      const checkpointFull = new FailingFileSystem(
        (op, path) => op === "writeFile" && path.includes("step-00000014") && path.endsWith("s"),
      );
      const checkpointError = await assertRejects(
        () =>
          runDinoTraining({
            config: tinyConfig(out),
            train,
            resume: out,
            fileSystem: checkpointFull,
          }),
        OutputWriteError,
        `cannot write checkpoint ${out}/step-00000014 (checkpoint.safetensors): no space left`,
      );
      assertOneLine(checkpointError, out, join(out, "step-00000007"));
      assertEquals(await fileNames(out), [
        "latest",
        "metrics.interrupted.jsonl",
        "metrics.jsonl",
        "step-00000007",
      ]);
      // a process killed while writing a checkpoint left its temporary folder
      const stale = join(out, ".step-00000014.tmp-4242");
      await Deno.mkdir(stale);
      await Deno.writeFile(join(stale, "checkpoint.safetensors"), new Uint8Array(99));
      // space freed: the run resumes and ends where the uninterrupted one did
      const said: string[] = [];
      const resumed = await runDinoTraining({
        config: tinyConfig(out),
        train,
        resume: out,
        onMessage: (message) => said.push(message),
      });
      assertTrue(
        said.includes(
          `removed 1 temporary file(s) an interrupted run left in ${out}: .step-00000014.tmp-4242`,
        ),
        said.join("\n"),
      );
      assertEquals(resumed.steps, 14);
      for (let step = 8; step <= 14; step++) {
        assertEquals(resumed.losses.get(step), straight.losses.get(step), `loss at step ${step}`);
      }
      assertEquals(await latestCheckpoint(out), join(out, "step-00000014"));
      assertEquals(await fileNames(out), [
        "latest",
        "metrics.interrupted.jsonl",
        "metrics.jsonl",
        "step-00000007",
        "step-00000014",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
