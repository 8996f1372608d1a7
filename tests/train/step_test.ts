// Issue 4 item 4: after warm-up a DINO step allocates no GPU memory (pool buffers and uniform
// parameter blocks alike) and reads nothing back.
import { type Batch, DataLoader } from "../../src/data/loader.ts";
import { syntheticDataset } from "../../src/data/synthetic.ts";
import { gpu } from "../../src/gpu/device.ts";
import { DINO_DEFAULTS } from "../../src/train/config.ts";
import { resolveConfig } from "../../src/train/validate.ts";
import { DinoTrainer } from "../../src/train/dino_trainer.ts";
import { liveTensorCount } from "../../src/tensor/tensor.ts";
import { assertEquals } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";

gpuTest("train step: no allocation and no readback after warm-up", async () => {
  const config = resolveConfig(DINO_DEFAULTS, {
    imageSize: 16,
    patchSize: 8,
    embedDim: 16,
    depth: 2,
    heads: 2,
    outDim: 64,
    headHidden: 16,
    headBottleneck: 8,
    batchSize: 8,
    epochs: 1,
    globalSize: 16,
    localSize: 8,
    localCrops: 2,
    dropPathRate: 0.2,
    freezeLastLayer: 0,
  });
  const loader = new DataLoader(syntheticDataset({ count: 72, size: 16 }), { batchSize: 8 });
  const trainer = new DinoTrainer(config, loader.batchesPerEpoch);
  const batches: Batch[] = [];
  for await (const batch of loader.epoch(0)) batches.push(batch);
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
