// Issue 8 item 6: 200 steps of a small model (LayerNorm -> Linear+GELU -> Linear -> cross-entropy,
// AdamW) keep live GPU bytes flat after warm-up, allocate nothing new, and never read back
// inside a step; and the loss actually goes down.
import { gpu } from "../../src/gpu/device.ts";
import { LayerNorm, Linear } from "../../src/nn/layers.ts";
import { AdamW } from "../../src/optim/adamw.ts";
import { backward, zeroGrad } from "../../src/tensor/backward.ts";
import { meanAll } from "../../src/ops/reduction/forward.ts";
import { crossEntropyWithLabels } from "../../src/ops/softmax/forward.ts";
import { Random } from "../../src/tensor/random.ts";
import { liveTensorCount, tensor, tidy } from "../../src/tensor/tensor.ts";
import { assertEquals, assertTrue } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";

gpuTest("training loop: 200 steps with flat memory and no readback inside a step", async () => {
  const random = new Random(3);
  const classes = 5, features = 24, batch = 32;
  const centres = Array.from(
    { length: classes },
    () => Float32Array.from({ length: features }, () => random.normal() * 2),
  );
  const labelsHost = Int32Array.from({ length: batch }, (_, i) => i % classes);
  const inputsHost = new Float32Array(batch * features);
  labelsHost.forEach((label, b) => {
    for (let f = 0; f < features; f++) {
      inputsHost[b * features + f] = centres[label][f] + random.normal();
    }
  });
  const inputs = tensor(inputsHost, [batch, features]);
  const labels = tensor(labelsHost, [batch], "i32");
  const norm = new LayerNorm(features, 1e-5);
  const hidden = new Linear(features, 64, random);
  const output = new Linear(64, classes, random);
  const parameters = [...norm.parameters(), ...hidden.parameters(), ...output.parameters()];
  const optimizer = new AdamW(parameters, { lr: 3e-3, weightDecay: 0.01 });
  const step = () => {
    const loss = tidy(() => {
      const normed = norm.forward(inputs);
      const activated = hidden.forward(normed, { activation: "gelu" });
      const logits = output.forward(activated);
      return meanAll(crossEntropyWithLabels(logits, labels));
    });
    backward(loss);
    optimizer.step();
    zeroGrad(parameters);
    return loss;
  };
  const first = step();
  const firstLoss = await first.item();
  first.dispose();
  for (let i = 0; i < 9; i++) step().dispose(); // warm-up: the pool fills its size classes
  await gpu().sync();
  const pool = gpu().pool.counters;
  const live = pool.liveBytes, allocations = pool.allocations;
  const readbacks = gpu().counters.readbacks, tensors = liveTensorCount();
  let last = step();
  for (let i = 1; i < 200; i++) {
    last.dispose();
    last = step();
    assertEquals(gpu().counters.readbacks, readbacks, `readback inside step ${i}`);
  }
  await gpu().sync();
  assertEquals(pool.allocations, allocations, "buffers were allocated after warm-up");
  assertEquals(liveTensorCount(), tensors + 1, "tensors leaked per step");
  const lastLoss = await last.item();
  assertTrue(lastLoss < firstLoss * 0.2, `loss ${firstLoss} -> ${lastLoss} did not fall`);
  last.dispose();
  assertEquals(pool.liveBytes, live, "live bytes grew over 200 steps");
  for (const module of [norm, hidden, output]) module.dispose();
  optimizer.dispose();
  inputs.dispose();
  labels.dispose();
});
