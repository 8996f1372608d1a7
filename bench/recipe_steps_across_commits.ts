/**
 * The Fashion-MNIST recipe's DINO training step of older revisions against this worktree's, in one
 * process, rounds alternated (so the shared machine's changing speed hits them alike):
 *
 *     deno run -A bench/recipe_steps_across_commits.ts 9c0bb08 674660b [--rounds 12] [--steps 8]
 *
 * Each REF is checked out with `git worktree add` into a temporary folder (node_modules linked from
 * this checkout), its DinoTrainer built with the recipe's config (`presetConfig("mnist")`, or for
 * revisions before it `resolveConfig` with the MNIST recipe) on its own device, and fed the same
 * random 28 px batch. Prints the median images/s of each and, per round, each revision's ratio to
 * the first. Compares our own code across commits; the peers are in bench/vit_vs_peers.sh.
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { randomImageBatch } from "../src/data/synthetic.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { rounds: { type: "string", default: "12" }, steps: { type: "string", default: "8" } },
});
const rounds = Number(values.rounds);
const stepsPerRound = Number(values.steps);
if (positionals.length === 0 || !(rounds > 0) || !(stepsPerRound > 0)) {
  console.error("usage: recipe_steps_across_commits.ts REF [REF ...] [--rounds N] [--steps N]");
  Deno.exit(2);
}

const here = new URL("..", import.meta.url).pathname;
const git = (...args: string[]) => {
  const result = new Deno.Command("git", { args, cwd: here, stderr: "inherit" }).outputSync();
  if (!result.success) throw new Error(`git ${args.join(" ")} failed`);
};
const folders: { name: string; dir: string; temporary: boolean }[] = [];
for (const ref of positionals) {
  const dir = Deno.makeTempDirSync({ prefix: `dinogpu-${ref}-` });
  git("worktree", "add", "--detach", "--force", dir, ref);
  Deno.symlinkSync(join(here, "node_modules"), join(dir, "node_modules"));
  folders.push({ name: ref, dir, temporary: true });
}
folders.push({ name: "worktree", dir: here.replace(/\/$/, ""), temporary: false });

// A trainer per revision; the recipe's config as that revision builds it.
// deno-lint-ignore no-explicit-any
type Loose = any;
async function recipeConfig(dir: string): Promise<Loose> {
  const validate: Loose = await import(`${dir}/src/train/validate.ts`).catch(() => ({}));
  if (validate.presetConfig) return validate.presetConfig("mnist", { data: "fashion-mnist" });
  const c: Loose = await import(`${dir}/src/train/config.ts`);
  return c.resolveConfig(
    c.DINO_DEFAULTS,
    c.smallDataConfig(28, 7),
    c.MNIST_RECIPE,
    { imageSize: 28 },
    { data: "fashion-mnist" },
  );
}

const runs: { name: string; step(): void; sync(): Promise<void>; batch: number }[] = [];
try {
  for (const { name, dir } of folders) {
    const device: Loose = await (await import(`${dir}/src/gpu/device.ts`)).initGpu();
    const config = await recipeConfig(dir);
    const { DinoTrainer } = await import(`${dir}/src/train/dino_trainer.ts`);
    const trainer = new DinoTrainer(config, 1_000_000);
    const batch = randomImageBatch(config.batchSize, 28);
    const step = () => {
      const result = trainer.trainStep(batch);
      for (const value of Object.values(result)) (value as Loose)?.dispose?.();
    };
    for (let i = 0; i < 4; i++) step(); // warm-up and the recorded step
    await device.sync();
    runs.push({ name, step, sync: () => device.sync(), batch: config.batchSize });
  }
  const rates: number[][] = runs.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [k, run] of runs.entries()) {
      const start = performance.now();
      for (let i = 0; i < stepsPerRound; i++) run.step();
      await run.sync();
      rates[k].push(stepsPerRound * run.batch / ((performance.now() - start) / 1000));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [k, run] of runs.entries()) {
    const ratios = rates[k].map((rate, round) => rate / rates[0][round]);
    console.log(
      `${run.name.padEnd(10)} median ${median(rates[k]).toFixed(1)} images/s` +
        (k === 0
          ? ""
          : `; per-round ratio to ${runs[0].name}: median ${median(ratios).toFixed(3)}, min ${
            Math.min(...ratios).toFixed(2)
          }, max ${Math.max(...ratios).toFixed(2)}`),
    );
  }
} finally {
  for (const { dir, temporary } of folders) {
    if (temporary) git("worktree", "remove", "--force", dir);
  }
}
