import { assertEquals, assertRejects, assertTrue as assert } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { linearProbe, standardizeFeatures, sweepLinearProbe } from "../../src/eval/linear_probe.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { Random } from "../helpers/random.ts";
import { assertClose } from "../helpers/op_check.ts";

/** Features labelled by the argmax of a random linear map, with an offset and scale per column. */
function separable(random: Random, n: number, dim: number, map: number[][]) {
  const features = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n;) {
    const x = Array.from({ length: dim }, () => random.normal());
    const scores = map.map((w) => w.reduce((sum, value, d) => sum + value * x[d], 0));
    const sorted = [...scores].sort((a, b) => b - a);
    if (sorted[0] - sorted[1] < 0.3) continue; // keep a margin
    labels[i] = scores.indexOf(sorted[0]);
    for (let d = 0; d < dim; d++) features[i * dim + d] = 5 + 3 * x[d]; // un-standardised
    i++;
  }
  return { features, labels };
}

gpuTest("linear probe: reaches > 95% on linearly separable features", async () => {
  const random = new Random(21);
  const dim = 24;
  const classes = 6;
  const map = Array.from(
    { length: classes },
    () => Array.from({ length: dim }, () => random.normal()),
  );
  const train = separable(random, 1500, dim, map);
  const test = separable(random, 400, dim, map);
  const epochLosses: number[] = [];
  const result = await linearProbe(train, test, {
    dim,
    epochs: 15,
    batchSize: 100,
    onEpoch: (_, loss) => epochLosses.push(loss),
  });
  assertEquals(epochLosses.length, 15);
  assert(result.losses[14] < result.losses[0] / 3, `loss ${result.losses}`);
  assert(result.top1 > 0.95, `top1 ${result.top1}`);
  assert(result.top5 >= result.top1 && result.top5 > 0.99, `top5 ${result.top5}`);
  // shuffled labels cannot be learnt for the test split
  const shuffled = { features: test.features, labels: test.labels.map((l) => (l + 1) % classes) };
  const wrong = await linearProbe(train, shuffled, { dim, epochs: 3, batchSize: 100 });
  assert(wrong.top1 < 0.2, `top1 on wrong labels ${wrong.top1}`);
});

gpuTest("linear probe: standardisation and bad input", async () => {
  const train = Float32Array.from([1, 10, 3, 20, 5, 60]);
  const { train: out, others, mean, std } = standardizeFeatures(
    train,
    [Float32Array.from([3, 30])],
    2,
    0,
  );
  assertClose(Array.from(mean), [3, 30], "mean");
  assertClose(Array.from(std), [Math.sqrt(8 / 3), Math.sqrt(1400 / 3)], "std");
  assertClose(
    Array.from(out.subarray(0, 2)),
    [-2 / Math.sqrt(8 / 3), -20 / Math.sqrt(1400 / 3)],
    "x0",
  );
  assertClose(Array.from(others[0]), [0, 0], "test");
  await assertRejects(
    () =>
      linearProbe({ features: train, labels: [0, 1] }, { features: train, labels: [0, 1, 0] }, {
        dim: 2,
      }),
    ShapeError,
    "train features hold 6 values for 2 labels of dim 2",
  );
});

gpuTest(
  "linear probe sweep: chooses the learning rate on held-out train rows, never the test",
  async () => {
    const random = new Random(5);
    const dim = 16;
    const classes = 4;
    const map = Array.from(
      { length: classes },
      () => Array.from({ length: dim }, () => random.normal()),
    );
    const train = separable(random, 800, dim, map);
    const test = separable(random, 200, dim, map);
    const seen: string[] = [];
    const options = {
      dim,
      classes,
      epochs: 4,
      batchSize: 100,
      lrs: [1e-6, 0.1, 1e-5],
      validationFraction: 0.25,
      onProbe: (lr: number, top1: number, what: string) => seen.push(`${what} ${lr} ${top1}`),
    };
    const result = await sweepLinearProbe(train, test, options);
    assertEquals(result.lr, 0.1);
    assertEquals(result.validation.map((v) => v.lr), [1e-6, 0.1, 1e-5]);
    assert(result.validation[1].top1 > 0.9, `validation ${JSON.stringify(result.validation)}`);
    assert(result.validation[0].top1 < result.validation[1].top1 - 0.2);
    assertEquals(seen.length, 4);
    assert(seen[3].startsWith("test 0.1 "), seen[3]);
    // the final probe is linearProbe on the whole train split at the chosen rate
    const direct = await linearProbe(train, test, {
      dim,
      classes,
      epochs: 4,
      batchSize: 100,
      lr: 0.1,
    });
    assertEquals(result.top1, direct.top1);
    assertEquals(result.finalLoss, direct.finalLoss);
    // the test labels play no part in the choice
    const wrong = { features: test.features, labels: test.labels.map((l) => (l + 1) % classes) };
    const blind = await sweepLinearProbe(train, wrong, { ...options, onProbe: undefined });
    assertEquals(blind.validation, result.validation);
    assert(blind.top1 < 0.2, `top1 on wrong labels ${blind.top1}`);
    await assertRejects(
      () => sweepLinearProbe(train, test, { ...options, validationFraction: 1 }),
      ShapeError,
      "validationFraction 1 of 800 train rows",
    );
    await assertRejects(
      () => sweepLinearProbe(train, test, { ...options, lrs: [0.1, -1] }),
      ShapeError,
      "learning rates must be numbers > 0, got [0.1,-1]",
    );
  },
);
