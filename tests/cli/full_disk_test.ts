// `dinogpu train` on a small tmpfs (where the machine lets tests mount one): the issue's scenario
// in miniature. The second checkpoint does not fit: one line on stderr naming the first and how
// to resume, exit status 1, no stack trace, nothing half-written; after the tmpfs is given room,
// `--resume` ends with the loss of a run never interrupted. A tmpfs too small for one checkpoint:
// the run refuses to start and says how much it needs.
import { join } from "node:path";
import { configFromFlags } from "../../cli/commands/train_options.ts";
import { checkpointBytes } from "../../src/train/checkpoint.ts";
import { DinoTrainer } from "../../src/train/dino_trainer.ts";
import { assertEquals, assertTrue } from "../helpers/assert.ts";
import { type MainResult, runMain } from "../helpers/cli.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { withTmpfs } from "../helpers/tmpfs.ts";

const FLAGS = {
  data: "synthetic:80",
  imageSize: 16,
  patchSize: 8,
  embedDim: 96,
  depth: 1,
  heads: 4,
  outDim: 256,
  epochs: 2,
  batchSize: 8,
  localCrops: 2,
  logEvery: 1,
};
const ARGS = Object.entries(FLAGS).flatMap(([key, value]) => [
  `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`,
  String(value),
]);

function train(args: string[]): Promise<MainResult> {
  return runMain(["train", ...args]);
}

async function finalLoss(out: string): Promise<number> {
  const lines = (await Deno.readTextFile(join(out, "metrics.jsonl"))).trim().split("\n");
  return lines.map((line) => JSON.parse(line)).filter((line) => line.loss !== undefined).at(-1)
    .loss;
}

gpuTest("train CLI: a full tmpfs stops the run in one line; --resume ends as one run", async () => {
  const config = await configFromFlags({ ...FLAGS, out: "unused" });
  const probe = new DinoTrainer(config, 7);
  const bytes = checkpointBytes(probe);
  probe.dispose();
  const home = await Deno.makeTempDir();
  try {
    // one checkpoint, curves.png (and its copy while replaced) and metrics fit; two do not
    await withTmpfs(1.4 * bytes + 512 * 1024, async (tmpfs) => {
      const out = join(tmpfs.dir, "run");
      const stopped = await train([...ARGS, "--out", out]);
      assertEquals(stopped.code, 1, stopped.stderr);
      const last = stopped.stderr.trim().split("\n").at(-1)!;
      assertEquals(
        last,
        `dinogpu: cannot write checkpoint ${out}/step-00000014 (checkpoint.safetensors): no ` +
          `space left on device; the last good checkpoint is ${out}/step-00000007; free some ` +
          `space, then continue with --resume ${out}`,
      );
      assertTrue(!/^\s+at /m.test(stopped.stderr), stopped.stderr);
      const names = (await Array.fromAsync(Deno.readDir(out))).map((entry) => entry.name).sort();
      assertEquals(names, ["curves.png", "latest", "metrics.jsonl", "step-00000007"]);
      await tmpfs.resize(4 * bytes + 1024 * 1024);
      const resumed = await train(["--resume", out, "--json"]);
      assertEquals(resumed.code, 0, resumed.stderr);
      const straight = await train([...ARGS, "--out", home, "--json"]);
      assertEquals(straight.code, 0, straight.stderr);
      assertEquals(await finalLoss(out), await finalLoss(home), "the final loss");
      assertEquals(JSON.parse(resumed.stdout).steps, 14);
    });
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("train CLI: a tmpfs too small for one checkpoint: the run refuses to start", async () => {
  await withTmpfs(64 * 1024, async (tmpfs) => {
    const out = join(tmpfs.dir, "run");
    const refused = await train([...ARGS, "--out", out]);
    assertEquals(refused.code, 1, refused.stderr);
    const last = refused.stderr.trim().split("\n").at(-1)!;
    assertTrue(
      last.startsWith(`dinogpu: the output folder ${out} has `) &&
        last.includes("one checkpoint of this model needs about") &&
        last.endsWith("free some space or choose another --out"),
      last,
    );
    assertTrue(!refused.stderr.includes("k-NN"), "refused before the evaluation and training");
  });
});
