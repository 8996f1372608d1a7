// The generic step recorder (src/gpu/recorder.ts) on a toy step, not DINO: a recorded step
// replays with the inputs of each call uploaded into its declared buffers, gives what running the
// step's code gives, and is recorded again when its key (args or input sizes) changes or when the
// uniform parameter cache is emptied.
import { gpu } from "../../src/gpu/device.ts";
import { StepRecorder } from "../../src/gpu/recorder.ts";
import { add, mul, scale } from "../../src/ops/elementwise/forward.ts";
import { sumAll } from "../../src/ops/reduction/forward.ts";
import { keep, Tensor, tensor } from "../../src/tensor/tensor.ts";
import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";

/** A toy step: y = factor * x * x + bias, and `state += sum(y)` (it changes state, as training does). */
function toyRecorder(state: Tensor, warmup?: number) {
  let codeRuns = 0;
  const recorder = new StepRecorder({
    inputs: {
      x: (bytes: number) => keep(Tensor.empty([bytes / 4], "f32", "toy x")),
      bias: (bytes: number) => keep(Tensor.empty([bytes / 4], "f32", "toy bias")),
    },
    step: (inputs: { x: Tensor; bias: Tensor }, args: { factor: number }) => {
      codeRuns++;
      const product = mul(inputs.x, inputs.x);
      const scaled = scale(product, args.factor); // a uniform parameter: part of the key
      const y = add(scaled, inputs.bias);
      const total = sumAll(y);
      const next = add(state, total);
      gpu().copy(next.buffer, 0, state.buffer, 0, 4);
      for (const t of [product, scaled, total, next]) t.dispose();
      return { y };
    },
    warmup,
  });
  return { recorder, codeRuns: () => codeRuns };
}

function inputsOf(step: number, length = 4) {
  return {
    x: Float32Array.from({ length }, (_, i) => step + i),
    bias: Float32Array.from({ length }, (_, i) => 10 * step - i),
  };
}

async function runAll(replay: boolean, calls: { factor: number; length: number }[]) {
  const state = tensor([0]);
  const { recorder, codeRuns } = toyRecorder(state);
  recorder.enabled = replay;
  const outputs: number[][] = [];
  for (const [step, call] of calls.entries()) {
    const out = recorder.run({ factor: call.factor }, inputsOf(step, call.length));
    outputs.push(Array.from(await out.y.read()));
    out.y.dispose();
  }
  const total = (await state.read())[0];
  const result = { outputs, total, replayed: recorder.replayed, codeRuns: codeRuns() };
  recorder.dispose();
  state.dispose();
  return result;
}

gpuTest("recorder: replays upload the declared inputs and equal running the step", async () => {
  const calls = Array.from({ length: 5 }, () => ({ factor: 2, length: 4 }));
  const replayed = await runAll(true, calls);
  const plain = await runAll(false, calls);
  // call 1 runs the code (warm-up), call 2 runs it while recording, calls 3-5 replay
  assertEquals(replayed.codeRuns, 2);
  assertEquals(replayed.replayed, 3);
  assertEquals(plain.codeRuns, 5);
  assertEquals(plain.replayed, 0);
  assertEquals(replayed.outputs, plain.outputs);
  assertEquals(replayed.total, plain.total);
  // the inputs of each call reached the replays: no two outputs repeat
  assertEquals(new Set(replayed.outputs.map((row) => row.join())).size, calls.length);
  // call 5: x = [4, 5, 6, 7], bias = [40, 39, 38, 37]
  assertEquals(replayed.outputs[4], [2 * 16 + 40, 2 * 25 + 39, 2 * 36 + 38, 2 * 49 + 37]);
});

gpuTest("recorder: a new key (args or input sizes) is warmed up and recorded again", async () => {
  const calls = [
    ...Array.from({ length: 3 }, () => ({ factor: 2, length: 4 })), // run, record, replay
    ...Array.from({ length: 3 }, () => ({ factor: 3, length: 4 })), // another uniform: its own
    ...Array.from({ length: 3 }, () => ({ factor: 3, length: 6 })), // another size: its own
    { factor: 2, length: 4 }, // the first key still replays
  ];
  const replayed = await runAll(true, calls);
  const plain = await runAll(false, calls);
  assertEquals(replayed.codeRuns, 6);
  assertEquals(replayed.replayed, 4);
  assertEquals(replayed.outputs, plain.outputs);
  assertEquals(replayed.total, plain.total);
});

gpuTest("recorder: an emptied uniform cache or an unsourced upload means running the code", () => {
  const state = tensor([0]);
  const { recorder, codeRuns } = toyRecorder(state, 0);
  const dispose = (out: { y: Tensor }) => out.y.dispose();
  dispose(recorder.run({ factor: 2 }, inputsOf(0))); // warm-up 0: recorded at once
  dispose(recorder.run({ factor: 2 }, inputsOf(1)));
  assertEquals([codeRuns(), recorder.replayed], [1, 1]);
  // the runtime empties its uniform parameter cache (16384 distinct blocks) by bumping this
  gpu().bindings.generation++;
  dispose(recorder.run({ factor: 2 }, inputsOf(2))); // recorded again
  dispose(recorder.run({ factor: 2 }, inputsOf(3)));
  assertEquals([codeRuns(), recorder.replayed], [2, 2]);
  recorder.clear();
  assertThrows(
    () => recorder.run({ factor: 2 }, { x: inputsOf(0).x } as ReturnType<typeof inputsOf>),
    RangeError,
    'no data for the input "bias"',
  );
  recorder.dispose();

  // a step that uploads without a replay source is never replayed; `failure` says why
  let runs = 0;
  const unsourced = new StepRecorder({
    inputs: {},
    step: () => {
      runs++;
      return { t: tensor([runs]) };
    },
  });
  for (let i = 0; i < 4; i++) unsourced.run({}, {}).t.dispose();
  assertEquals([runs, unsourced.replayed], [4, 0]);
  assertTrue(unsourced.failure?.includes("no replay source") ?? false, `${unsourced.failure}`);
  unsourced.dispose();
  state.dispose();
});
