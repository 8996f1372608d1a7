// The step guard (src/optim/step_guard.ts): a gradient norm that is not finite raises the flag,
// the guarded updates (AdamW, the EMA) then leave everything as it was, and `endStep` counts the
// skipped steps and lowers the flag.
import { assertEquals, assertThrows } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { AdamW } from "../../src/optim/adamw.ts";
import { checkGradients, clipGradNorm, clipGradNormPerParameter } from "../../src/optim/clip.ts";
import { emaUpdate } from "../../src/optim/ema.ts";
import { StepGuard } from "../../src/optim/step_guard.ts";
import { readAll, type Tensor, tensor } from "../../src/tensor/tensor.ts";

/** A parameter holding `values` with gradient `grad`. */
function parameter(values: number[], grad: number[]): Tensor {
  const param = tensor(values);
  param.requiresGrad = true;
  param.grad = tensor(grad);
  return param;
}

function release(...params: Tensor[]): void {
  for (const param of params) {
    param.grad?.dispose();
    param.dispose();
  }
}

async function flagOf(guard: StepGuard): Promise<number> {
  const [flag] = await readAll([guard.flag]);
  return flag[0];
}

gpuTest("step guard: each norm pass raises the flag for an inf or NaN gradient only", async () => {
  const passes: [string, (params: Tensor[], guard: StepGuard) => void][] = [
    ["clipGradNorm", (params, guard) => clipGradNorm(params, 1, guard).dispose()],
    [
      "clipGradNormPerParameter",
      (params, guard) => clipGradNormPerParameter(params, 1, guard).dispose(),
    ],
    ["checkGradients", (params, guard) => checkGradients(params, guard)],
  ];
  for (const [name, pass] of passes) {
    for (const bad of [0, Infinity, -Infinity, NaN, 3e38]) {
      const guard = new StepGuard();
      // 3e38 is finite, but its square overflows: the norm is inf in f32, so the step is skipped
      const finite = bad === 0;
      const params = [parameter([1, 2], [0.5, -0.5]), parameter([3, 4, 5], [0.1, bad, 0.2])];
      pass(params, guard);
      assertEquals(await flagOf(guard), finite ? 0 : 1, `${name} with a gradient ${bad}`);
      release(...params);
      guard.dispose();
    }
  }
});

gpuTest(
  "step guard: a raised flag leaves AdamW's parameters and moments as they were",
  async () => {
    const guard = new StepGuard();
    const param = parameter([1, -2, 3], [0.5, 0.25, -1]);
    const optimizer = new AdamW([param], { lr: 0.1, weightDecay: 0.04 });
    optimizer.step({ skipIf: guard.flag }); // flag down: an ordinary step
    const before = optimizer.state();
    const [paramBefore, mBefore, vBefore] = await readAll([
      param,
      before.expAvg[0],
      before.expAvgSq[0],
    ]);
    param.grad!.dispose();
    param.grad = tensor([NaN, Infinity, 1]);
    clipGradNorm([param], 1, guard).dispose();
    optimizer.step({ skipIf: guard.flag });
    const after = optimizer.state();
    const [paramAfter, mAfter, vAfter] = await readAll([param, after.expAvg[0], after.expAvgSq[0]]);
    assertEquals(Array.from(paramAfter), Array.from(paramBefore));
    assertEquals(Array.from(mAfter), Array.from(mBefore));
    assertEquals(Array.from(vAfter), Array.from(vBefore));
    // and the first step did move the parameter (the comparison above can fail)
    assertEquals(Array.from(paramBefore).some((value, index) => value !== [1, -2, 3][index]), true);
    for (const state of [before, after]) {
      state.steps.dispose();
      [...state.expAvg, ...state.expAvgSq].forEach((value) => value.dispose());
    }
    optimizer.dispose();
    release(param);
    guard.dispose();
  },
);

gpuTest("step guard: a raised flag leaves an EMA target as it was", async () => {
  const guard = new StepGuard();
  const target = tensor([1, 2, 3]);
  const source = tensor([3, 2, 1]);
  emaUpdate([target], [source], 0.5, { skipIf: guard.flag });
  assertEquals(Array.from((await readAll([target]))[0]), [2, 2, 2]);
  const bad = parameter([0], [Infinity]);
  checkGradients([bad], guard);
  emaUpdate([target], [source], 0.5, { skipIf: guard.flag });
  assertEquals(Array.from((await readAll([target]))[0]), [2, 2, 2]);
  assertThrows(
    () => emaUpdate([target], [source], 0.5, { skipIf: tensor([0, 0], [2], "u32") }),
    ShapeError,
    "one u32 flag",
  );
  release(bad, target, source);
  guard.dispose();
});

gpuTest(
  "step guard: endStep counts skipped steps, in all and in a row, and lowers the flag",
  async () => {
    const guard = new StepGuard();
    const good = parameter([1], [1]);
    const bad = parameter([1], [NaN]);
    const seen: number[][] = [];
    for (const skip of [false, true, true, false, true]) {
      checkGradients([skip ? bad : good], guard);
      guard.endStep();
      assertEquals(await flagOf(guard), 0);
      const counts = guard.snapshot();
      seen.push(Array.from((await readAll([counts]))[0]));
      counts.dispose();
    }
    assertEquals(seen, [[0, 0], [1, 1], [2, 2], [2, 0], [3, 1]]);
    release(good, bad);
    guard.dispose();
  },
);
