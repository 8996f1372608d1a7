// Command capture and replay (src/gpu/device.ts): the unit under the replayed training step.
import { gpu } from "../../src/gpu/device.ts";
import { add, scale } from "../../src/ops/elementwise/forward.ts";
import { Tensor, tensor } from "../../src/tensor/tensor.ts";
import { assertEquals, assertThrows, assertTrue } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";

gpuTest("capture: a replay re-uploads step inputs and reruns the kernels", async () => {
  const runtime = gpu();
  const input = Tensor.empty([4], "f32", "step input");
  let next = 1;
  const source = () => Float32Array.of(next, next + 1, next + 2, next + 3);
  const bias = tensor([10, 20, 30, 40]);
  runtime.beginCapture();
  runtime.uploadStepInput(input.buffer, source);
  const scaled = scale(input, 2); // a temporary: released inside the capture
  const output = add(scaled, bias);
  scaled.dispose();
  const captured = runtime.endCapture();
  assertEquals(captured.failure, undefined);
  assertEquals(captured.commands.map((command) => command.kind), [
    "upload",
    "dispatch",
    "dispatch",
  ]);
  assertEquals(Array.from(await output.read()), [12, 24, 36, 48]);
  // the temporary belongs to the capture: the pool does not hand it out again
  assertEquals(captured.owned.length, 1);
  const other = Tensor.empty([4]);
  assertTrue(other.buffer !== captured.owned[0], "the pool handed out a captured temporary");
  next = 5;
  runtime.replay(captured);
  assertEquals(Array.from(await output.read()), [20, 32, 44, 56]);
  runtime.releaseCaptured(captured);
  assertThrows(() => runtime.replay(captured), Error, "given back");
  for (const t of [input, bias, output, other]) t.dispose();
});

gpuTest("capture: an upload without a source or a readback makes it unreplayable", async () => {
  const runtime = gpu();
  runtime.beginCapture();
  const plain = tensor([1, 2, 3]);
  const first = runtime.endCapture();
  assertTrue(
    first.failure?.includes("no replay source") ?? false,
    `failure: ${first.failure}`,
  );
  assertThrows(() => runtime.replay(first), Error, "no replay source");
  runtime.releaseCaptured(first);
  runtime.beginCapture();
  await plain.read();
  const second = runtime.endCapture();
  assertTrue(second.failure?.includes("readback") ?? false, `failure: ${second.failure}`);
  runtime.releaseCaptured(second);
  plain.dispose();
  assertThrows(() => runtime.endCapture(), Error, "no capture");
});
