// DINO runs end to end on tiny settings: exact resumption, a stop when steps keep being skipped for
// gradients that are not finite that keeps the last good checkpoint (failed writes: write_failures_test.ts).
import { join } from "node:path";
import type { DinoTrainConfig } from "../../src/train/config.ts";
import {
  latestCheckpoint,
  loadCheckpoint,
  readCheckpointInfo,
} from "../../src/train/checkpoint.ts";
import { DinoTrainer } from "../../src/train/dino_trainer.ts";
import {
  INTERRUPTED_METRICS,
  runDinoTraining,
  TrainingDivergedError,
} from "../../src/train/run.ts";
import { assertEquals, assertRejects, assertTrue } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { tinyConfig as tinyRunConfig, tinySplit } from "../helpers/tiny_dino.ts";

const { train, test } = tinySplit;

/** The tiny run over 3 epochs, with drop path. */
function tinyConfig(out: string, overrides: Partial<DinoTrainConfig> = {}): DinoTrainConfig {
  return tinyRunConfig(out, { epochs: 3, dropPathRate: 0.1, ...overrides });
}

gpuTest("train: a run stopped at step k and resumed gives the same losses as one run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const straight = await runDinoTraining({
      config: tinyConfig(join(dir, "straight"), { maxSteps: 12 }),
      train,
    });
    assertEquals(straight.steps, 12);
    await runDinoTraining({ config: tinyConfig(join(dir, "split"), { maxSteps: 7 }), train });
    const info = await readCheckpointInfo(join(dir, "split"));
    assertEquals(info.step, 7);
    // a process killed after its step-7 checkpoint had logged two more steps
    const splitMetrics = join(dir, "split", "metrics.jsonl");
    const stale = ['{"step":8,"loss":99}', '{"step":9,"loss":99}'];
    await Deno.writeTextFile(splitMetrics, stale.join("\n") + "\n", { append: true });
    const resumed = await runDinoTraining({
      config: tinyConfig(join(dir, "split"), { maxSteps: 12 }),
      train,
      resume: join(dir, "split"),
    });
    for (let step = 8; step <= 12; step++) {
      const expected = straight.losses.get(step);
      assertTrue(expected !== undefined && Number.isFinite(expected), `no loss at step ${step}`);
      assertEquals(resumed.losses.get(step), expected, `loss at step ${step} after resuming`);
    }
    const readLines = async (path: string) =>
      (await Deno.readTextFile(path)).trim().split("\n").map((line) => JSON.parse(line));
    const lines = await readLines(join(dir, "straight", "metrics.jsonl"));
    assertEquals(lines.length, 12);
    const resumedLines = await readLines(splitMetrics);
    assertEquals(resumedLines.map((line) => line.step), lines.map((line) => line.step));
    assertEquals(resumedLines[7].loss, lines[7].loss, "the resumed run's step-8 line");
    const interrupted = await readLines(join(dir, "split", INTERRUPTED_METRICS));
    assertEquals(interrupted.map((line) => line.step), [8, 9]);
    for (const key of ["loss", "lr", "wd", "momentum", "teacher_temp", "teacher_entropy", "kl"]) {
      assertTrue(Number.isFinite(lines[11][key]), `metrics line lacks ${key}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest(
  "train: a diverged run (steps skipped for non-finite gradients 3 in a row) stops, the last good checkpoint stays loadable",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      await runDinoTraining({ config: tinyConfig(dir, { maxSteps: 8 }), train });
      const good = await latestCheckpoint(dir);
      const messages: string[] = [];
      const error = await assertRejects(
        () =>
          runDinoTraining({
            config: tinyConfig(dir, { maxSteps: 16, lr: 1e36, warmupEpochs: 0 }),
            train,
            resume: dir,
            onMessage: (message) => messages.push(message),
          }),
        TrainingDivergedError,
        "at 3 steps in a row",
      );
      assertTrue(error.message.includes(good), error.message);
      // the skipped steps before the third were each warned of, and nothing reached the weights
      const warnings = messages.filter((message) => message.includes("1 step skipped"));
      assertEquals(warnings.length, 2, messages.join("\n"));
      assertEquals(await latestCheckpoint(dir), good);
      const trainer = new DinoTrainer(tinyConfig(dir), 8);
      const info = await loadCheckpoint(trainer, dir);
      assertEquals(info.step, 8);
      trainer.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gpuTest(
  "train: knnBeforeTraining never leaves the step-0 k-NN out, the end one stays",
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const result = await runDinoTraining({
        config: tinyConfig(dir, { maxSteps: 2, logEvery: 1, knnBeforeTraining: "never" }),
        train,
        test,
      });
      assertEquals(result.knnBefore, undefined);
      assertTrue(result.knnAfter !== undefined);
      const lines = (await Deno.readTextFile(join(dir, "metrics.jsonl"))).trim().split("\n")
        .map((line) => JSON.parse(line));
      assertEquals(lines.filter((line) => "knn_top1" in line).map((line) => line.step), [2]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

gpuTest("train: k-NN runs before and after, and the run reports speed and memory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const result = await runDinoTraining({
      config: tinyConfig(dir, { maxSteps: 4, logEvery: 2 }),
      train,
      test,
    });
    assertTrue(result.knnBefore !== undefined && result.knnAfter !== undefined);
    assertTrue(result.knnAfter! >= 0 && result.knnAfter! <= 100);
    assertTrue(result.imagesPerSecond > 0 && result.peakGpuBytes > 0);
    // metrics.jsonl holds both ends of the k-NN curve: step 0 first, the last step last
    const lines = (await Deno.readTextFile(join(dir, "metrics.jsonl"))).trim().split("\n")
      .map((line) => JSON.parse(line));
    assertEquals(
      [lines[0].step, lines[0].knn_top1],
      [0, result.knnBefore],
    );
    assertEquals([lines.at(-1).step, lines.at(-1).knn_top1], [4, result.knnAfter]);
    // the evaluation line carries the k-NN only: each training metric appears once per step
    assertEquals(Object.keys(lines.at(-1)).sort(), ["epoch", "knn_top1", "knn_top5", "step"]);
    assertEquals(lines.filter((line) => line.step === 4 && "loss" in line).length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
