// `dinogpu train --data folder:DIR` streams its images through the worker pool; a run killed
// with SIGKILL in the middle of an epoch and resumed with --resume logs the very losses of a run
// never killed (the sampler's order and crops are a function of seed, epoch and image).
import jpeg from "jpeg-js";
import { join } from "node:path";
import { assertEquals, assertTrue } from "../helpers/assert.ts";
import { MAIN, runMain, TINY_TRAIN_FLAGS } from "../helpers/cli.ts";

function jpegOf(width: number, height: number, seed: number): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const x = i % width, y = Math.floor(i / width);
    data.set(
      [(x * 9 + seed * 31) & 255, (y * 7 + seed * 17) & 255, (x * y + seed) & 255, 255],
      i * 4,
    );
  }
  return new Uint8Array(jpeg.encode({ data, width, height }, 90).data);
}

function trainArgs(data: string, out: string): string[] {
  return [
    "train",
    "--data",
    `folder:${data}`,
    ...TINY_TRAIN_FLAGS,
    "--max-steps",
    "8",
    "--eval-train-limit",
    "8",
    "--workers",
    "2",
    "--out",
    out,
  ];
}

async function losses(out: string): Promise<Map<number, number>> {
  const lines = (await Deno.readTextFile(join(out, "metrics.jsonl"))).trim().split("\n");
  const result = new Map<number, number>();
  for (const line of lines) {
    const parsed = JSON.parse(line);
    if (typeof parsed.loss === "number") result.set(parsed.step, parsed.loss);
  }
  return result;
}

Deno.test({
  name: "train folder: kill -9 mid-epoch and --resume gives the uninterrupted run's losses",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const data = join(dir, "images");
      for (let i = 0; i < 24; i++) {
        const folder = join(data, i % 2 ? "b" : "a");
        await Deno.mkdir(folder, { recursive: true });
        await Deno.writeFile(join(folder, `${i}.jpg`), jpegOf(20 + i % 9, 18 + (i * 5) % 13, i));
      }
      const straightOut = join(dir, "straight");
      const straight = await runMain(trainArgs(data, straightOut));
      assertEquals(straight.code, 0, straight.stderr);
      const expected = await losses(straightOut);
      assertEquals([...expected.keys()], [1, 2, 3, 4, 5, 6, 7, 8]);

      // 19 train images (the rest is the k-NN split): 4 steps per epoch; a checkpoint per step
      const killedOut = join(dir, "killed");
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, ...trainArgs(data, killedOut), "--checkpoint-every", "0.00001"],
        stdout: "null",
        stderr: "null",
      }).spawn();
      const deadline = Date.now() + 300_000;
      // the `latest` pointer is written after the step's folder: wait for it to name step 6 or
      // later, or a kill in between resumes from step 5
      const latestStep = () =>
        Deno.readTextFile(join(killedOut, "latest")).then(
          (text) => Number(text.trim().replace("step-", "")),
          () => 0,
        );
      while ((await latestStep()) < 6) {
        assertTrue(Date.now() < deadline, "the run to kill never reached step 6");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      child.kill("SIGKILL");
      const info = JSON.parse(
        await Deno.readTextFile(join(killedOut, "step-00000006", "checkpoint.json")),
      );
      assertEquals(info.sampler, {
        seed: 0,
        epoch: 1,
        position: 2,
        images: 19,
        shardIndex: 0,
        shardCount: 1,
      });
      const status = await child.status;
      assertEquals(status.signal, "SIGKILL", "killed before it finished");
      const resumed = await runMain(["train", "--resume", killedOut, "--workers", "2"]);
      assertEquals(resumed.code, 0, resumed.stderr);
      assertTrue(/resumed from .* at step [67]/.test(resumed.stderr), resumed.stderr);
      assertEquals(await losses(killedOut), expected);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
