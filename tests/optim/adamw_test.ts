import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { assertClose } from "../helpers/op_check.ts";
import { Random } from "../helpers/random.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { gpu } from "../../src/gpu/device.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { AdamW } from "../../src/optim/adamw.ts";
import { clipGradNorm, gradNormClipFactor } from "../../src/optim/clip.ts";
import { emaUpdate } from "../../src/optim/ema.ts";
import { cosineSchedule } from "../../src/optim/schedule.ts";
import { clone, readAll, type Tensor, tensor } from "../../src/tensor/tensor.ts";

/** Float32 rounding, in float64 (the values the GPU sees). */
function f32(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(values));
}

/** Float64 reference of one parameter under torch.optim.AdamW (single-tensor path). */
class ReferenceAdamW {
  m: Float64Array;
  v: Float64Array;
  step = 0;
  constructor(public p: Float64Array) {
    this.m = new Float64Array(p.length);
    this.v = new Float64Array(p.length);
  }
  update(
    g: ArrayLike<number>,
    lr: number,
    wd: number,
    beta1 = 0.9,
    beta2 = 0.999,
    eps = 1e-8,
  ): void {
    this.step++;
    const bc1 = 1 - beta1 ** this.step;
    const bc2 = 1 - beta2 ** this.step;
    for (let i = 0; i < this.p.length; i++) {
      this.p[i] *= 1 - lr * wd;
      this.m[i] = beta1 * this.m[i] + (1 - beta1) * g[i];
      this.v[i] = beta2 * this.v[i] + (1 - beta2) * g[i] * g[i];
      const denominator = Math.sqrt(this.v[i]) / Math.sqrt(bc2) + eps;
      this.p[i] -= (lr / bc1) * this.m[i] / denominator;
    }
  }
}

function makeParam(values: ArrayLike<number>, requiresGrad = true): Tensor {
  const param = tensor(values);
  param.requiresGrad = requiresGrad;
  return param;
}

function setGrad(param: Tensor, values: ArrayLike<number>): void {
  param.grad?.dispose();
  param.grad = tensor(values);
}

gpuTest("adamw: two groups, odd sizes, 5 steps match PyTorch's AdamW in float64", async () => {
  const random = new Random(11);
  const sizes = [1, 7, 1000];
  const initial = sizes.map((size) => f32(random.normals(size)));
  const params = initial.map((values) => makeParam(values));
  const references = initial.map((values) => new ReferenceAdamW(Float64Array.from(values)));
  // A frozen parameter and one without a gradient must stay as they are.
  const frozen = makeParam([1, 2, 3], false);
  frozen.grad = tensor([5, 5, 5]);
  const gradless = makeParam([4, 5]);
  const optimizer = new AdamW(
    [
      { params: [params[0], params[2], frozen], lr: 0.05, weightDecay: 0.1 },
      { params: [params[1], gradless], weightDecay: 0 },
    ],
    { lr: 0.01, betas: [0.8, 0.95], eps: 1e-6 },
  );
  assertEquals(optimizer.groups[1].lr, 0.01);
  assertEquals(optimizer.groups[0].weightDecay, 0.1);
  const groupOf = [0, 1, 0];
  for (let step = 0; step < 5; step++) {
    if (step === 2) {
      optimizer.setGroupLr(0, 0.02);
      optimizer.setGroupWeightDecay(1, 0.3);
    }
    if (step === 4) optimizer.setGroupLr(1, 0.004);
    params.forEach((param, index) => {
      // gradients of mixed scales, including tiny ones where eps matters
      const grad = f32(random.normals(param.size, index === 1 ? 1e-3 : 1));
      setGrad(param, grad);
      const group = optimizer.groups[groupOf[index]];
      references[index].update(grad, group.lr, group.weightDecay, 0.8, 0.95, 1e-6);
    });
    optimizer.step();
  }
  const read = await readAll([...params, frozen, gradless]);
  params.forEach((_, index) => {
    assertClose(read[index], references[index].p, `parameter of size ${sizes[index]}`, {
      absolute: 2e-6,
      relative: 2e-5,
    });
  });
  assertEquals(Array.from(read[3]), [1, 2, 3]);
  assertEquals(Array.from(read[4]), [4, 5]);
  assertEquals(optimizer.steps, [5, 5, 0, 5, 0]);
  // the update moved the parameters (the check above is not vacuous)
  assertTrue(Math.abs(read[2][0] - initial[2][0]) > 1e-3);
  for (const param of [...params, frozen, gradless]) {
    param.grad?.dispose();
    param.dispose();
  }
  optimizer.dispose();
});

gpuTest("adamw: gradScale multiplies the gradients inside the update", async () => {
  const random = new Random(3);
  const initial = f32(random.normals(300));
  const grad = f32(random.normals(300, 2));
  const param = makeParam(initial);
  setGrad(param, grad);
  const optimizer = new AdamW([param], { lr: 0.1 });
  const { norm, factor } = gradNormClipFactor([param], 1);
  optimizer.step({ gradScale: factor });
  let squares = 0;
  for (const g of grad) squares += g * g;
  const scale = Math.min(1, 1 / (Math.sqrt(squares) + 1e-6));
  const reference = new ReferenceAdamW(Float64Array.from(initial));
  reference.update(grad.map((g) => g * scale), 0.1, 0.01);
  reference.update(grad.map((g) => g * scale), 0.1, 0.01);
  optimizer.step({ gradScale: factor });
  const [got, normRead, factorRead] = await readAll([param, norm, factor]);
  assertClose([normRead[0], factorRead[0]], [Math.sqrt(squares), scale], "norm and factor");
  assertClose(got, reference.p, "scaled update", { absolute: 2e-6, relative: 2e-5 });
  for (const t of [param.grad!, param, norm, factor]) t.dispose();
  optimizer.dispose();
});

gpuTest("adamw: a gradScale per parameter multiplies each gradient by its own entry", async () => {
  const random = new Random(4);
  const sizes = [7, 300, 1];
  const initial = sizes.map((size) => f32(random.normals(size)));
  const grads = sizes.map((size) => f32(random.normals(size, 2)));
  const params = initial.map((values) => makeParam(values));
  params.forEach((param, index) => setGrad(param, grads[index]));
  const optimizer = new AdamW(params, { lr: 0.1 });
  const scales = [0.25, 1, 3];
  const gradScale = tensor(scales);
  optimizer.step({ gradScale });
  optimizer.step({ gradScale });
  const got = await readAll(params);
  params.forEach((_, index) => {
    const reference = new ReferenceAdamW(Float64Array.from(initial[index]));
    const scaled = grads[index].map((g) => g * scales[index]);
    reference.update(scaled, 0.1, 0.01);
    reference.update(scaled, 0.1, 0.01);
    assertClose(got[index], reference.p, `parameter ${index} scaled by ${scales[index]}`, {
      absolute: 2e-6,
      relative: 2e-5,
    });
  });
  const wrong = tensor([1, 1]);
  assertThrows(
    () => optimizer.step({ gradScale: wrong }),
    ShapeError,
    "AdamW.step: gradScale must hold one f32 value or one per parameter (3), got Tensor [2] f32",
  );
  for (const t of [...params.map((p) => p.grad!), ...params, gradScale, wrong]) t.dispose();
  optimizer.dispose();
});

gpuTest("adamw: state() and loadState() resume the same trajectory", async () => {
  const random = new Random(5);
  const a = makeParam(f32(random.normals(33)));
  const b = makeParam(f32(random.normals(1)));
  const first = new AdamW([{ params: [a] }, { params: [b], lr: 0.03 }], { lr: 0.01 });
  const grads = [0, 1, 2, 3].map(() => [f32(random.normals(33)), f32(random.normals(1))]);
  for (let step = 0; step < 3; step++) {
    setGrad(a, grads[step][0]);
    setGrad(b, grads[step][1]);
    first.step();
  }
  const saved = first.state();
  const a2 = clone(a);
  const b2 = clone(b);
  a2.requiresGrad = b2.requiresGrad = true;
  const second = new AdamW([{ params: [a2] }, { params: [b2], lr: 0.03 }], { lr: 0.01 });
  await second.loadState(saved);
  assertEquals(second.steps, [3, 3]);
  setGrad(a, grads[3][0]);
  setGrad(b, grads[3][1]);
  setGrad(a2, grads[3][0]);
  setGrad(b2, grads[3][1]);
  first.step();
  second.step();
  const [ra, rb, ra2, rb2] = await readAll([a, b, a2, b2]);
  assertEquals(Array.from(ra2), Array.from(ra));
  assertEquals(Array.from(rb2), Array.from(rb));
  assertThrows(
    () => new AdamW([a, a], { lr: 0.1 }),
    ShapeError,
    "AdamW: parameter 1 of group 0 (Tensor [33] f32) appears twice",
  );
  assertThrows(() => first.setGroupLr(2, 0.1), RangeError, "no group 2 (the optimizer has 2)");
  setGrad(a, [1, 2]);
  assertThrows(
    () => first.step(),
    ShapeError,
    "gradient of parameter 0 does not match it: Tensor [33] f32 has gradient Tensor [2] f32",
  );
  for (const t of [a, b, a2, b2, saved.steps, ...saved.expAvg, ...saved.expAvgSq]) {
    t.grad?.dispose();
    t.dispose();
  }
  first.dispose();
  second.dispose();
});

gpuTest("adamw: 50 AdamW + clip + EMA steps allocate no buffer and read nothing back", async () => {
  const random = new Random(9);
  const sizes = [1, 7, 1000, 3000];
  const student = sizes.map((size) => makeParam(f32(random.normals(size))));
  const teacher = student.map((param) => clone(param));
  for (const param of student) setGrad(param, f32(random.normals(param.size)));
  const optimizer = new AdamW(
    [{ params: student.slice(0, 2), weightDecay: 0 }, { params: student.slice(2) }],
    { lr: 1e-3 },
  );
  const totalSteps = 55;
  const lr = cosineSchedule({ base: 1e-3, final: 1e-6, totalSteps, warmupSteps: 5 });
  const weightDecay = cosineSchedule({ base: 0.04, final: 0.4, totalSteps });
  const momentum = cosineSchedule({ base: 0.996, final: 1, totalSteps });
  const trainStep = (step: number) => {
    optimizer.setGroupLr(0, lr[step]);
    optimizer.setGroupLr(1, lr[step]);
    optimizer.setGroupWeightDecay(1, weightDecay[step]);
    if (step % 2 === 0) {
      clipGradNorm(student, 3).dispose();
      optimizer.step();
    } else {
      const { norm, factor } = gradNormClipFactor(student, 3);
      optimizer.step({ gradScale: factor });
      norm.dispose();
      factor.dispose();
    }
    emaUpdate(teacher, student, momentum[step]);
  };
  for (let step = 0; step < 5; step++) trainStep(step);
  await gpu().sync();
  const allocations = gpu().pool.counters.allocations;
  const readbacks = gpu().counters.readbacks;
  const dispatches = gpu().counters.dispatches;
  for (let step = 5; step < totalSteps; step++) trainStep(step);
  await gpu().sync();
  assertEquals(gpu().pool.counters.allocations, allocations, "no new buffer in 50 steps");
  assertEquals(gpu().counters.readbacks, readbacks, "no readback in 50 steps");
  assertTrue(gpu().counters.dispatches - dispatches >= 50 * 4 * 3, "the steps did run");
  const values = await readAll([...student, ...teacher]);
  for (const array of values) assertTrue(array.every(Number.isFinite));
  for (const t of [...student, ...teacher]) {
    t.grad?.dispose();
    t.dispose();
  }
  optimizer.dispose();
});
