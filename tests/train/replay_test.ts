// Issue 4 item 4: a captured training step replayed with new inputs computes what running the
// model code again computes: same losses, monitors and weights at every step, with drop path,
// augmentation draws and per-step schedules (lr, weight decay, teacher momentum) all changing.
import type { Batch } from "../../src/data/loader.ts";
import type { DinoTrainConfig } from "../../src/train/config.ts";
import assert from "node:assert";
import { assertEquals } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { syntheticBatches, tinyStepConfig, trainSteps } from "../helpers/tiny_dino.ts";

function tinyConfig(overrides: Partial<DinoTrainConfig> = {}): DinoTrainConfig {
  return tinyStepConfig({ freezeLastLayer: 1, ...overrides });
}

/** Loss, teacher entropy and the centre's squared norm per step; teacher weights. */
function runSteps(config: DinoTrainConfig, replay: boolean, batches: Batch[]) {
  return trainSteps(config, replay, batches, ["loss", "teacherEntropy", "centerNormSquared"]);
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
  const batches = await syntheticBatches(8, config.batchSize);
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
  const batches = await syntheticBatches(5, koleo.batchSize);
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
