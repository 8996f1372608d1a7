// Command capture and replay (src/gpu/device.ts): the unit under the replayed training step.
import { gpu } from "../../src/gpu/device.ts";
import { add, scale } from "../../src/ops/elementwise/forward.ts";
import { sum } from "../../src/ops/reduction/forward.ts";
import { reshape } from "../../src/ops/shape/forward.ts";
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

gpuTest(
  "capture: temporaries alive at different times share an arena, replays unchanged",
  async () => {
    const runtime = gpu();
    const input = Tensor.empty([1024], "f32", "step input");
    let next = 1;
    const values = () => Float32Array.from({ length: 1024 }, (_, i) => (i % 7) + next);
    runtime.beginCapture();
    runtime.uploadStepInput(input.buffer, values);
    // a: 4 KB, freed before c and d (2 KB each) are made: the size-class pool cannot reuse it
    const a = scale(input, 2);
    const rows = reshape(a, [2, 512]); // a view: a's buffer is released with both
    const b = sum(rows, 0);
    rows.dispose();
    a.dispose();
    const c = scale(b, 3);
    const output = add(c, b);
    b.dispose();
    c.dispose();
    const before = runtime.pool.counters.allocatedBytes;
    const captured = runtime.endCapture();
    assertEquals(captured.failure, undefined);
    assertTrue(captured.arenas.length > 0, "the temporaries went into arenas");
    assertTrue(runtime.pool.counters.allocatedBytes < before, "packing took fewer bytes");
    const expected = () => {
      const x = values();
      return Array.from({ length: 512 }, (_, i) => 4 * 2 * (x[i] + x[i + 512]));
    };
    assertEquals(Array.from(await output.read()), expected());
    for (const step of [5, 9]) {
      next = step;
      runtime.replay(captured);
      assertEquals(Array.from(await output.read()), expected());
    }
    runtime.releaseCaptured(captured);
    assertEquals(captured.arenas.length, 0);
    input.dispose();
    output.dispose();
  },
);
