// Issue 22 on the GPU: the student's parameter groups, clipping per submodule against a float64
// reference, the per-step teacher temperature as an uploaded scale, DINOv2's token init, and
// replay of a step with every DINOv2 recipe key on.
import assert from "node:assert";
import { gpu } from "../../src/gpu/device.ts";
import { Block, VisionTransformer, vitConfig } from "../../src/nn/vit.ts";
import { readAll, tensor } from "../../src/tensor/tensor.ts";
import { DinoLoss } from "../../src/train/dino_loss.ts";
import { DinoNetwork } from "../../src/train/models.ts";
import { studentParamGroups } from "../../src/train/param_groups.ts";
import { DINOV2_RECIPE } from "../../src/train/recipe.ts";
import { dinoOptimizer, dinoSchedules } from "../../src/train/schedules.ts";
import { clipGradients, studentSubmodules } from "../../src/train/step.ts";
import { resolveConfig } from "../../src/train/validate.ts";
import { assertEquals } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { assertClose } from "../helpers/op_check.ts";
import { Random } from "../helpers/random.ts";
import { syntheticBatches, tinyStepConfig, trainSteps } from "../helpers/tiny_dino.ts";

gpuTest("param groups: DINO's two groups by default, DINOv2's multipliers with its keys", () => {
  const dino = tinyStepConfig({ layerScaleInit: 1e-5, registers: 2 });
  const student = new DinoNetwork(dino, true);
  const groups = studentParamGroups(student, dino);
  const trainable = student.namedParameters().filter(([, p]) => p.requiresGrad);
  const plain = ([name, p]: [string, { rank: number }]) => name.endsWith(".bias") || p.rank === 1;
  assertEquals(groups.length, 2);
  assertEquals(groups[0].params, trainable.filter((e) => !plain(e)).map(([, p]) => p));
  assertEquals(groups[1].params, trainable.filter(plain).map(([, p]) => p));
  assertEquals([groups[1].weightDecayMultiplier, groups[1].lrMultiplier], [0, 1]);

  const v2 = resolveConfig(dino, { ...DINOV2_RECIPE });
  const fused = studentParamGroups(student, v2);
  // every trainable parameter once; lr multipliers 0.9^3 (embeddings, x 0.2 for the patch
  // embedding), 0.9^2 (block 0), 0.9 (block 1), 1 (final norm, registers, head)
  assertEquals(fused.flatMap((g) => g.params).length, trainable.length);
  const multipliers = new Set(
    fused.map((g) => `${g.lrMultiplier!.toFixed(6)}/${g.weightDecayMultiplier}`),
  );
  for (const expected of ["0.729000/1", "0.145800/1", "0.145800/0", "0.810000/1", "0.810000/0"]) {
    assert(multipliers.has(expected), `no group ${expected} in ${[...multipliers].join(", ")}`);
  }
  const optimizer = dinoOptimizer(student, v2, dinoSchedules(v2, 4));
  optimizer.setSchedule(0.01, 0.05);
  for (const group of optimizer.groups) {
    assertClose(
      [group.lr, group.weightDecay],
      [
        0.01 * group.lrMultiplier,
        0.05 * group.weightDecayMultiplier,
      ],
      "setSchedule",
      { absolute: 1e-15 },
    );
  }
  optimizer.dispose();
  student.dispose();
});

gpuTest("clip per submodule: each of backbone, DINO head, iBOT head to global norm 3", async () => {
  const config = tinyStepConfig({
    ibotLossWeight: 1,
    ibotSeparateHead: true,
    clipMode: "submodule",
  });
  const student = new DinoNetwork(config, true);
  const random = new Random(5);
  const submodules = studentSubmodules(student);
  assertEquals(submodules.length, 3);
  // the backbone's gradients far above the limit, the heads' one above and one below it
  const scales = [1, 0.2, 0.0001];
  const expected: Float64Array[][] = submodules.map((module, index) => {
    const grads = module.parameters().map((p) => {
      const values = Float64Array.from(Float32Array.from(random.normals(p.size, scales[index])));
      p.grad = tensor(Float32Array.from(values), p.shape);
      return values;
    });
    let sum = 0;
    for (const g of grads) for (const v of g) sum += v * v;
    const factor = Math.min(1, 3 / (Math.sqrt(sum) + 1e-6));
    return grads.map((g) => g.map((v) => v * factor));
  });
  const optimizer = dinoOptimizer(student, config, dinoSchedules(config, 4));
  clipGradients(student, optimizer, config);
  for (const [index, module] of submodules.entries()) {
    const got = await readAll(module.parameters().map((p) => p.grad!));
    got.forEach((values, i) =>
      assertClose(values, expected[index][i], `submodule ${index} parameter ${i}`)
    );
  }
  for (const p of student.parameters()) p.grad?.dispose();
  optimizer.dispose();
  student.dispose();
});

gpuTest(
  "per-step teacher temperature: the uploaded scale equals sharpening at that value",
  async () => {
    const random = new Random(9);
    const student = tensor(Float32Array.from(random.normals(3 * 4 * 10)), [12, 10]);
    const teacher = tensor(Float32Array.from(random.normals(2 * 4 * 10)), [8, 10]);
    for (const centering of ["centering", "sinkhorn"] as const) {
      const loss = new DinoLoss(10, 0.1, 0.9, centering);
      const direct = loss.compute(student, teacher, 0.05);
      const scale = tensor([0.07 / 0.05], [1]);
      const scaled = loss.compute(student, teacher, { reference: 0.07, scale });
      const values = await readAll([
        direct.loss,
        scaled.loss,
        direct.teacherEntropy,
        scaled.teacherEntropy,
      ]);
      assertClose([values[1][0], values[3][0]], [values[0][0], values[2][0]], centering);
      for (const t of [direct.loss, direct.teacherEntropy, direct.klDivergence, scale]) t.dispose();
      for (const t of [scaled.loss, scaled.teacherEntropy, scaled.klDivergence]) t.dispose();
      loss.dispose();
    }
    student.dispose();
    teacher.dispose();
  },
);

gpuTest("token init: DINOv2's N(0, 1e-6) CLS and register tokens", async () => {
  const vit = new VisionTransformer({
    embedDim: 16,
    depth: 1,
    heads: 2,
    registers: 4,
    tokenInit: "small-normal",
  });
  const [cls, registers] = await readAll(
    vit.namedParameters().filter(([name]) => name.endsWith("_token") || name.endsWith("_tokens"))
      .map(([, value]) => value),
  );
  const values = [...cls, ...registers];
  const std = Math.sqrt(values.reduce((sum, v) => sum + v * v, 0) / values.length);
  assert(std > 3e-7 && std < 3e-6, `token std ${std}`);
  vit.dispose();
});

gpuTest(
  "a step with the DINOv2 recipe keys replays as it runs (per-step temperature uploaded)",
  async () => {
    // temperature warm-up over the whole first epoch of 4 steps: a new value at every step; the
    // last layer frozen for 2 steps (a new recording when it thaws)
    const config = tinyStepConfig({
      ...DINOV2_RECIPE,
      registers: 2,
      layerScaleInit: 1e-5,
      koleoLossWeight: 0.1,
      centering: "sinkhorn",
      warmupTeacherTemp: 0.04,
      teacherTemp: 0.07,
      warmupTeacherTempEpochs: 1,
      freezeLastLayer: 0.5,
      normLastLayer: false,
    });
    const batches = await syntheticBatches(8, config.batchSize);
    const replayed = await trainSteps(config, true, batches, ["loss", "teacherEntropy"]);
    const plain = await trainSteps(config, false, batches, ["loss", "teacherEntropy"]);
    assertEquals(replayed.failure, undefined);
    assertEquals(plain.replayed, 0);
    // steps 1-2 frozen (run, capture), 3-4 thawed (run, capture), 5-8 replay
    assertEquals(replayed.replayed, 4);
    replayed.monitors.forEach((row, step) =>
      assertClose(row, plain.monitors[step], `step ${step + 1} loss, entropy`)
    );
    replayed.weights.forEach((values, index) =>
      assertClose(values, plain.weights[index], `teacher parameter ${index}`)
    );
  },
);

gpuTest(
  "batch-subset drop path: the branch reaches B (1 - rate) samples, scaled by B / subset",
  async () => {
    // one block whose feed-forward is switched off (LayerScale 0) and attention kept (LayerScale 1)
    const config = vitConfig({
      embedDim: 8,
      depth: 1,
      heads: 2,
      layerScaleInit: 1,
      dropPathRate: 0.5,
      dropPathBatchSubset: true,
    });
    const block = new Block(config, 0.5, new Random(1), new Random(2));
    const gamma = block.ls2!.parameters()[0];
    using zero = tensor(new Float32Array(8));
    gpu().copy(zero.buffer, 0, gamma.buffer, 0, gamma.byteLength);
    const random = new Random(3);
    const input = Float32Array.from(random.normals(4 * 3 * 8));
    using x = tensor(input, [4, 3, 8]);
    using output = block.forward(x);
    using branch = block.attn.forward(block.norm1.forward(x));
    const [y, attended] = (await readAll([output, branch])) as Float32Array[];
    const row = 3 * 8;
    let changed = 0;
    for (let sample = 0; sample < 4; sample++) {
      const at = (values: ArrayLike<number>, i: number) => values[sample * row + i];
      const same = Array.from({ length: row }, (_, i) => at(y, i) === input[sample * row + i]);
      if (same.every(Boolean)) continue;
      changed++;
      assertClose(
        y.subarray(sample * row, (sample + 1) * row),
        Array.from({ length: row }, (_, i) => input[sample * row + i] + 2 * at(attended, i)),
        `sample ${sample}`,
      );
    }
    assertEquals(changed, 2);
    block.dispose();
  },
);
