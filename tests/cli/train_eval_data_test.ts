// `dinogpu train --eval-data SPEC`: a run on a flat (unlabelled) folder evaluates its k-NN on
// another, labelled set (bank: its train split, queries: its test split), kept through --resume;
// without it the run trains and says in one line that the k-NN is off; a set that cannot be
// evaluated is refused in one line naming what was given.
import { join } from "node:path";
import { encodePng } from "../../src/io/image.ts";
import { indexImageFolder } from "../../src/data/stream/image_index.ts";
import { writeTarShards } from "../../src/data/stream/tar_writer.ts";
import { assertEquals, assertTrue } from "../helpers/assert.ts";
import { runMain, TINY_TRAIN_FLAGS } from "../helpers/cli.ts";

/** A PNG of `side` x `side` px: a pattern per `seed`, or per class when `kind` is given. */
function pngOf(side: number, seed: number, kind = -1): Uint8Array {
  const pixels = new Uint8Array(side * side * 3).map((_, i) =>
    kind < 0 ? (i * 7 + seed * 31) & 255 : kind === 0 ? (i % 3) * 90 + seed : (i * 5 + seed) & 255
  );
  return encodePng(pixels, side, side);
}

const TINY = [...TINY_TRAIN_FLAGS, "--workers", "1"];

/** `dinogpu train ARGS` in a child process: its exit status, stderr then stdout. */
async function train(args: string[]): Promise<{ code: number; log: string }> {
  const { code, stderr, stdout } = await runMain(["train", ...args]);
  return { code, log: stderr + stdout };
}

async function metrics(out: string): Promise<Record<string, number>[]> {
  const text = await Deno.readTextFile(join(out, "metrics.jsonl"));
  return text.trim().split("\n").map((line) => JSON.parse(line));
}

Deno.test({
  name: "train --eval-data: k-NN of a flat folder's run on a labelled set; errors in one line",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const flat = join(dir, "flat");
      await Deno.mkdir(flat);
      for (let i = 0; i < 8; i++) {
        await Deno.writeFile(join(flat, `${i}.png`), pngOf(18 + i % 5, i));
      }
      const labelled = join(dir, "labelled");
      for (const [kind, name] of ["a", "b"].entries()) {
        await Deno.mkdir(join(labelled, name), { recursive: true });
        for (let i = 0; i < 6; i++) {
          await Deno.writeFile(join(labelled, name, `${i}.png`), pngOf(16, i, kind));
        }
      }

      // bank: 8 of the 10 train images of the labelled folder's seeded 80/20 split, queries: 2
      const out = join(dir, "run");
      const run = await train([
        ...TINY,
        "--data",
        `folder:${flat}`,
        "--eval-data",
        `folder:${labelled}`,
        "--eval-train-limit",
        "8",
        "--max-steps",
        "2",
        "--out",
        out,
      ]);
      assertEquals(run.code, 0, run.log);
      assertTrue(run.log.includes(`(k-NN: 8 bank / 2 query images of "folder:${labelled}")`));
      assertTrue(/knn_top1 before=\d+\.\d\d after=\d+\.\d\d/.test(run.log), run.log);
      const lines = await metrics(out);
      assertEquals([lines[0].step, typeof lines[0].knn_top1], [0, "number"]);
      assertEquals([lines.at(-1)!.step, typeof lines.at(-1)!.knn_top1], [2, "number"]);
      const checkpoint = JSON.parse(
        await Deno.readTextFile(join(out, "step-00000002", "checkpoint.json")),
      );
      assertEquals(checkpoint.config.evalData, `folder:${labelled}`);
      // the resumed run evaluates on the same set (the spec is part of the run's configuration)
      const resumed = await train(["--resume", out, "--max-steps", "3", "--workers", "1"]);
      assertEquals(resumed.code, 0, resumed.log);
      assertTrue(resumed.log.includes("k-NN after training"), resumed.log);
      const last = (await metrics(out)).at(-1)!;
      assertEquals([last.step, typeof last.knn_top1], [3, "number"]);

      // no --eval-data on a flat folder: trained, one line says the k-NN is off and how to have it
      const off = await train([
        ...TINY,
        "--data",
        `folder:${flat}`,
        "--max-steps",
        "1",
        "--out",
        join(dir, "off"),
      ]);
      assertEquals(off.code, 0, off.log);
      const said = off.log.split("\n").filter((line) => line.includes("k-NN"));
      assertEquals(said.length, 1, off.log);
      assertTrue(said[0].startsWith(`k-NN evaluation off: folder:${flat} has no labels`), said[0]);
      assertTrue(said[0].includes("--eval-data SPEC"), said[0]);
      assertTrue(!(await metrics(join(dir, "off"))).some((line) => "knn_top1" in line));

      // sets that cannot be evaluated: one line, exit status 1, nothing trained
      await writeTarShards(await indexImageFolder(labelled), join(dir, "shard-%d.tar"), {
        perShard: 12,
      });
      const refused: [string, string][] = [
        [`folder:${flat}`, `dinogpu: --eval-data folder:${flat} has no labels`],
        [
          `tar:${dir}/shard-0.tar`,
          `dinogpu: --eval-data tar:${dir}/shard-0.tar has no test split (tar shards are not ` +
          'split: name the test shards after a "|", tar:PATTERN|TEST_PATTERN)',
        ],
        ["imagenet", 'dinogpu: --eval-data "imagenet": unknown source "imagenet"'],
      ];
      for (const [spec, message] of refused) {
        const bad = join(dir, "bad");
        const result = await train([
          ...TINY,
          "--data",
          `folder:${flat}`,
          "--eval-data",
          spec,
          "--out",
          bad,
        ]);
        assertEquals(result.code, 1, result.log);
        const lines = result.log.trim().split("\n");
        assertEquals(lines.length, 1, result.log);
        assertTrue(lines[0].startsWith(message), lines[0]);
        assertTrue(!(await Deno.stat(join(bad, "metrics.jsonl")).then(() => true, () => false)));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
