// Issue 4 item 4: a captured training step replayed with new inputs computes what running the
// model code again computes: same losses, monitors and weights at every step, with drop path,
// augmentation draws and per-step schedules (lr, weight decay, teacher momentum) all changing.
import { type Batch, DataLoader } from "../../src/data/loader.ts";
import { syntheticDataset } from "../../src/data/synthetic.ts";
import { DINO_DEFAULTS, type DinoTrainConfig } from "../../src/train/config.ts";
import { resolveConfig } from "../../src/train/validate.ts";
import { DinoTrainer } from "../../src/train/dino_trainer.ts";
import { readAll } from "../../src/tensor/tensor.ts";
import assert from "node:assert";
import { assertEquals } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";

function tinyConfig(overrides: Partial<DinoTrainConfig> = {}): DinoTrainConfig {
  return resolveConfig(DINO_DEFAULTS, {
    imageSize: 16,
    patchSize: 8,
    embedDim: 16,
    depth: 2,
    heads: 2,
    outDim: 32,
    headHidden: 16,
    headBottleneck: 8,
    batchSize: 4,
    epochs: 2,
    warmupEpochs: 1,
    globalSize: 16,
    localSize: 8,
    localCrops: 2,
    dropPathRate: 0.3,
    freezeLastLayer: 1,
    ...overrides,
  });
}

async function runSteps(config: DinoTrainConfig, replay: boolean, batches: Batch[]) {
  const trainer = new DinoTrainer(config, batches.length / config.epochs);
  trainer.replay = replay;
  const monitors: number[][] = [];
  for (const batch of batches) {
    const result = trainer.trainStep(batch);
    const values = await readAll([result.loss, result.teacherEntropy, result.centerNormSquared]);
    monitors.push(values.map((value) => value[0]));
    for (const value of Object.values(result)) value.dispose();
  }
  const weights = await readAll(trainer.teacher.parameters().slice(0, 6));
  const replayed = trainer.replayedSteps;
  const failure = trainer.replayFailure;
  trainer.dispose();
  return { monitors, weights, replayed, failure };
}

async function batchesOf(config: DinoTrainConfig, count: number): Promise<Batch[]> {
  const loader = new DataLoader(syntheticDataset({ count: count * config.batchSize, size: 16 }), {
    batchSize: config.batchSize,
  });
  const batches: Batch[] = [];
  for await (const batch of loader.epoch(0)) batches.push(batch);
  return batches;
}

function assertClose(actual: number[][], expected: number[][], what: string) {
  assertEquals(actual.length, expected.length);
  actual.forEach((row, step) =>
    row.forEach((value, index) => {
      const reference = expected[step][index];
      assert(
        Math.abs(value - reference) <= 1e-5 * Math.max(1, Math.abs(reference)),
        `${what}: step ${step + 1} value ${index}: replayed ${value}, re-run ${reference}`,
      );
    })
  );
}

gpuTest("replayed DINO steps equal steps that run the model code", async () => {
  // two epochs of 4 steps: the last layer is frozen in the first (one capture per epoch), and
  // lr, weight decay and momentum change at every step
  const config = tinyConfig();
  const batches = await batchesOf(config, 8);
  const replayed = await runSteps(config, true, batches);
  const plain = await runSteps(config, false, batches);
  assertEquals(replayed.failure, undefined);
  assertEquals(plain.replayed, 0);
  // per epoch: step 1 runs the code, step 2 is captured, steps 3 and 4 replay
  assertEquals(replayed.replayed, 4);
  assertClose(replayed.monitors, plain.monitors, "loss, entropy, centre");
  replayed.weights.forEach((weights, index) => {
    const reference = plain.weights[index];
    let worst = 0;
    weights.forEach((value, i) => worst = Math.max(worst, Math.abs(value - reference[i])));
    assert(worst <= 1e-5, `teacher parameter ${index}: max |replayed - re-run| ${worst}`);
  });
  // the losses move: a replay that froze the inputs of its capture would repeat them
  const losses = replayed.monitors.map((row) => row[0]);
  assert(new Set(losses).size === losses.length, `losses repeat: ${losses.join(", ")}`);
});

gpuTest("DINOv2 steps with KoLeo and Sinkhorn-Knopp replay; iBOT steps run the code", async () => {
  // patch 7 (patch length 147, zero-padded in the patch embedding) as in the Fashion-MNIST recipe
  const koleo = tinyConfig({
    koleoLossWeight: 0.1,
    centering: "sinkhorn",
    epochs: 1,
    imageSize: 14,
    patchSize: 7,
    globalSize: 14,
    localSize: 7,
  });
  const batches = await batchesOf(koleo, 5);
  const replayed = await runSteps(koleo, true, batches);
  const plain = await runSteps(koleo, false, batches);
  assertEquals(replayed.failure, undefined);
  assertEquals(replayed.replayed, 3);
  assertClose(replayed.monitors, plain.monitors, "KoLeo + Sinkhorn-Knopp");

  const ibot = tinyConfig({ ibotLossWeight: 1, epochs: 1 });
  const ibotRun = await runSteps(ibot, true, batches);
  const ibotPlain = await runSteps(ibot, false, batches);
  assertEquals(ibotRun.replayed, 0);
  assert(
    ibotRun.failure?.includes("no replay source") ?? false,
    `iBOT capture failure: ${ibotRun.failure}`,
  );
  assertClose(ibotRun.monitors, ibotPlain.monitors, "iBOT");
});
