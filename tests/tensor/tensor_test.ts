import { assertEquals, assertRejects, assertThrows } from "../helpers/assert.ts";
import { gpu } from "../../src/gpu/device.ts";
import { DisposedTensorError, ShapeError } from "../../src/gpu/errors.ts";
import {
  accumulateInto,
  clone,
  fillBuffer,
  full,
  keep,
  liveTensorCount,
  readAll,
  tensor,
  tidy,
  zeros,
} from "../../src/tensor/tensor.ts";
import { gpuTest } from "../helpers/gpu_test.ts";

gpuTest("tensor: upload and read back", async () => {
  const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  assertEquals(x.shape, [2, 3]);
  assertEquals(Array.from(await x.read()), [1, 2, 3, 4, 5, 6]);
  const i = tensor([-1, 7], [2], "i32");
  assertEquals(Array.from(await i.read()), [-1, 7]);
  x.dispose();
  i.dispose();
});

gpuTest("tensor: full, zeros, clone and accumulate", async () => {
  const a = full([300_000], 2.5);
  const b = zeros([300_000]);
  accumulateInto(b, a, 2);
  const c = clone(b);
  const [readA, readC] = await readAll([a, c]);
  assertEquals(readA[299_999], 2.5);
  assertEquals(readC[0], 5);
  assertEquals(readC[299_999], 5);
  for (const t of [a, b, c]) t.dispose();
});

gpuTest("tensor: fill and accumulate of every size modulo 16 match float64", async () => {
  // vec4 kernels take 16 elements per invocation: sizes around that cover every tail.
  for (const size of [1, 2, 3, 4, 5, 15, 16, 17, 18, 4099, 4102]) {
    const a = Float32Array.from({ length: size }, (_, i) => Math.sin(i + 1) * 3);
    const b = Float32Array.from({ length: size }, (_, i) => Math.cos(i * 0.7));
    const destination = tensor(b);
    const source = tensor(a);
    accumulateInto(destination, source, -0.375);
    const filled = full([size], -1.25);
    const integers = full([size], -7, "i32");
    const [accumulated, fill, fillInteger] = await readAll([destination, filled, integers]);
    for (let i = 0; i < size; i++) {
      const expected = Math.fround(b[i] + Math.fround(-0.375 * a[i]));
      if (Math.abs(accumulated[i] - expected) > 1e-6 * (1 + Math.abs(expected))) {
        throw new Error(`accumulate size ${size} [${i}]: got ${accumulated[i]}, want ${expected}`);
      }
      if (fill[i] !== -1.25 || fillInteger[i] !== -7) {
        throw new Error(`fill size ${size} [${i}]: got ${fill[i]} and ${fillInteger[i]}`);
      }
    }
    for (const t of [destination, source, filled, integers]) t.dispose();
  }
});

gpuTest("tensor: fillBuffer leaves elements past count alone, in both kernels", async () => {
  const device = gpu().device;
  // 32 bytes hold whole vec4s for 5 elements (vec4 kernel); 20 bytes do not (one per element).
  for (const bytes of [32, 20]) {
    const buffer = device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    const before = Float32Array.from({ length: bytes / 4 }, (_, i) => 10 + i);
    device.queue.writeBuffer(buffer, 0, before);
    fillBuffer(buffer, 3, 0.5);
    const [after] = await gpu().readMany([{ buffer, bytes }]);
    const expected = Array.from(before, (value, i) => (i < 3 ? 0.5 : value));
    assertEquals(Array.from(new Float32Array(after)), expected);
    buffer.destroy();
  }
});

gpuTest("tensor: use after dispose and size mismatch say what failed", async () => {
  const x = tensor([1, 2], [2]);
  x.name = "weights";
  x.dispose();
  assertThrows(
    () => x.buffer,
    DisposedTensorError,
    'Tensor [2] f32 "weights" used after dispose()',
  );
  await assertRejects(() => x.read(), DisposedTensorError, "used after dispose()");
  assertThrows(() => tensor([1, 2, 3], [2, 2]), ShapeError, "from 3 values (want 4)");
  const y = tensor([1, 2, 3, 4], [2, 2]);
  assertThrows(() => y.view([3, 4]), ShapeError, "Cannot view tensor of shape [2, 2] as [3, 4]");
  y.dispose();
});

gpuTest("tensor: allocation beyond the storage binding limit is refused", () => {
  const limit = gpu().limits.maxStorageBufferBindingSize;
  assertThrows(
    () => zeros([limit / 4 + 1]),
    ShapeError,
    "exceeds the device's storage binding limit",
  );
});

gpuTest("tensor: tidy disposes what the body created except results and kept tensors", () => {
  const before = liveTensorCount();
  let kept = undefined as ReturnType<typeof zeros> | undefined;
  const result = tidy(() => {
    zeros([4]);
    kept = keep(zeros([5]));
    return { out: zeros([6]) };
  });
  assertEquals(liveTensorCount(), before + 2);
  result.out.dispose();
  kept!.dispose();
  assertEquals(liveTensorCount(), before);
});

gpuTest("tensor: views share storage and release it with the last handle", async () => {
  const pool = gpu().pool;
  const live = pool.counters.liveBytes;
  const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  const v = x.view([3, 2]);
  x.dispose();
  assertEquals(Array.from(await v.read()), [1, 2, 3, 4, 5, 6]);
  v.dispose();
  assertEquals(pool.counters.liveBytes, live);
});
