// Issue 4 item 4: after warm-up a DINO step allocates no GPU memory (pool buffers and uniform
// parameter blocks alike) and reads nothing back.
import { gpu } from "../../src/gpu/device.ts";
import { DinoTrainer } from "../../src/train/dino_trainer.ts";
import { liveTensorCount } from "../../src/tensor/tensor.ts";
import { assertEquals } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { syntheticBatches, tinyDinoConfig } from "../helpers/tiny_dino.ts";

gpuTest("train step: no allocation and no readback after warm-up", async () => {
  const config = tinyDinoConfig({
    patchSize: 8,
    depth: 2,
    outDim: 64,
    batchSize: 8,
    epochs: 1,
    dropPathRate: 0.2,
    freezeLastLayer: 0,
  });
  const batches = await syntheticBatches(9, 8);
  const trainer = new DinoTrainer(config, batches.length);
  const run = (index: number) => {
    const result = trainer.trainStep(batches[index]);
    for (const value of Object.values(result)) value.dispose();
  };
  for (let i = 0; i < 4; i++) run(i);
  await gpu().sync();
  const pool = gpu().pool.counters;
  const counters = gpu().counters;
  const before = {
    allocations: pool.allocations,
    liveBytes: pool.liveBytes,
    uniforms: counters.uniformBuffers,
    readbacks: counters.readbacks,
    tensors: liveTensorCount(),
  };
  const replayedBefore = trainer.replayedSteps;
  for (let i = 4; i < batches.length; i++) run(i);
  await gpu().sync();
  // the steps after warm-up were replays of one capture, not the model code run again
  assertEquals(trainer.replayFailure, undefined);
  assertEquals(trainer.replayedSteps - replayedBefore, batches.length - 4);
  assertEquals({
    allocations: pool.allocations,
    liveBytes: pool.liveBytes,
    uniforms: counters.uniformBuffers,
    readbacks: counters.readbacks,
    tensors: liveTensorCount(),
  }, before);
  trainer.dispose();
});
