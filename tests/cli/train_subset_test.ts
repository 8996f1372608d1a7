// `dinogpu train --train-subset FILE`: a run trains on the train images a curate list names
// (train/N lines), says so in its first line (with --precision f16 too) and keeps the whole train
// split as the k-NN bank; a bad list is refused in one line naming the line.
import { join } from "node:path";
import { assertEquals, assertTrue } from "../helpers/assert.ts";
import { runMain, TINY_TRAIN_FLAGS } from "../helpers/cli.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

Deno.test({
  name: "train --train-subset: trains on the listed rows; a bad list is one line",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withTempDir(async (dir) => {
      const list = join(dir, "sampled.txt");
      await Deno.writeTextFile(
        list,
        Array.from({ length: 8 }, (_, i) => `train/${3 * i}`).join("\n"),
      );
      const out = join(dir, "run");
      const args = ["train", ...TINY_TRAIN_FLAGS, "--data", "synthetic:40", "--out", out];
      const run = await runMain([
        ...args,
        "--train-subset",
        list,
        "--max-steps",
        "2",
        "--precision",
        "f16",
      ]);
      assertEquals(run.code, 0, run.stderr);
      assertTrue(run.stderr.includes("2 local crops, f16 products ->"), run.stderr);
      // synthetic:40 splits 30 / 10; 8 listed images make 2 steps of 4 an epoch
      assertTrue(
        run.stderr.includes(`8 of the 30 train images (${list}) / 10 test images`),
        run.stderr,
      );
      const knn = (await Deno.readTextFile(join(out, "metrics.jsonl"))).trim().split("\n")
        .map((line) => JSON.parse(line)).find((line) => "knn_top1" in line);
      assertTrue(knn !== undefined, "the run evaluated its k-NN");

      await Deno.writeTextFile(list, "train/1\ntest/2\n");
      const bad = await runMain([...args, "--train-subset", list, "--max-steps", "1"]);
      assertTrue(bad.code !== 0, "a bad list fails the run");
      assertTrue(bad.stderr.includes(`${list} line 2: "test/2" is not train/N`), bad.stderr);
      assertEquals(bad.stderr.includes("    at "), false, "no stack trace");
    });
  },
});
