// A run on a real small file system (a tmpfs, where the machine lets tests mount one): the
// second checkpoint does not fit, the run ends with one line naming the first, nothing half
// written stays, and once the tmpfs is given more room the resumed run ends as a run never
// interrupted does.
import { join } from "node:path";
import { checkpointBytes, latestCheckpoint } from "../../src/train/checkpoint.ts";
import { DinoTrainer } from "../../src/train/dino_trainer.ts";
import { OutputWriteError, runDinoTraining } from "../../src/train/run.ts";
import { assertEquals, assertRejects, assertTrue } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { tinyConfig, tinyTrain as train } from "../helpers/tiny_dino.ts";
import { withTmpfs } from "../helpers/tmpfs.ts";

// a model whose checkpoint (~0.7 MB) dwarfs the metrics file and the file system's own pages
const WIDER = { embedDim: 64, heads: 4, outDim: 256, headHidden: 128, headBottleneck: 32 };

gpuTest(
  "full disk: the second checkpoint does not fit a tmpfs; resumed, the run ends the same",
  async () => {
    const probe = new DinoTrainer(tinyConfig("unused", WIDER), 7);
    const bytes = checkpointBytes(probe);
    probe.dispose();
    const home = await Deno.makeTempDir();
    try {
      await withTmpfs(1.5 * bytes, async (tmpfs) => {
        const out = join(tmpfs.dir, "run");
        const error = await assertRejects(
          () => runDinoTraining({ config: tinyConfig(out, WIDER), train }),
          OutputWriteError,
          `cannot write checkpoint ${out}/step-00000014 (checkpoint.safetensors): no space left on ` +
            `device; the last good checkpoint is ${out}/step-00000007; free some space, then ` +
            `continue with --resume ${out}`,
        );
        assertTrue(!error.message.includes("\n"));
        const names = (await Array.fromAsync(Deno.readDir(out))).map((entry) => entry.name).sort();
        assertEquals(names, ["latest", "metrics.jsonl", "step-00000007"]);
        await tmpfs.resize(4 * bytes);
        const resumed = await runDinoTraining({
          config: tinyConfig(out, WIDER),
          train,
          resume: out,
        });
        const straight = await runDinoTraining({ config: tinyConfig(home, WIDER), train });
        assertEquals(resumed.steps, 14);
        assertEquals(resumed.losses.get(14), straight.losses.get(14), "the final loss");
        assertEquals(await latestCheckpoint(out), join(out, "step-00000014"));
      });
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
);

gpuTest("full disk: a tmpfs too small for one checkpoint: the run refuses to start", async () => {
  await withTmpfs(64 * 1024, async (tmpfs) => {
    const out = join(tmpfs.dir, "run");
    const error = await assertRejects(
      () => runDinoTraining({ config: tinyConfig(out, WIDER), train }),
      OutputWriteError,
      `the output folder ${out} has `,
    );
    assertTrue(error.message.endsWith("free some space or choose another --out"), error.message);
    assertEquals((await Array.fromAsync(Deno.readDir(out))).length, 0);
  });
});
