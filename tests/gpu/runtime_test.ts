import { sizeClass } from "../../src/gpu/buffer_pool.ts";
import { gpu } from "../../src/gpu/device.ts";
import { GpuRuntimeError, GpuTimeoutError, KernelCompileError } from "../../src/gpu/errors.ts";
import { flatLaunch, flatWorkgroups } from "../../src/gpu/launch.ts";
import { registerKernelSource } from "../../src/gpu/pipeline_cache.ts";
import { withWatchdog } from "../../src/gpu/watchdog.ts";
import { full, tensor, zeros } from "../../src/tensor/tensor.ts";
import { assertEquals, assertRejects, assertThrows, assertTrue } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";

Deno.test("pool: size classes round up to 256, 2^k or 1.5 x 2^k", () => {
  assertEquals(sizeClass(1), 256);
  assertEquals(sizeClass(256), 256);
  assertEquals(sizeClass(257), 384);
  assertEquals(sizeClass(384), 384);
  assertEquals(sizeClass(385), 512);
  assertEquals(sizeClass(700), 768);
  assertEquals(sizeClass(1000), 1024);
  for (let bytes = 1; bytes < 100_000; bytes += 97) {
    const size = sizeClass(bytes);
    assertTrue(size >= bytes && size % 4 === 0 && size < bytes * 2 + 256, `class of ${bytes}`);
  }
});

Deno.test("launch: flat workgroups spill into y past 65535", () => {
  assertEquals(flatWorkgroups(1000, 256), [4, 1]);
  const [x, y] = flatWorkgroups(65536 * 256 * 3, 256);
  assertTrue(x <= 65535 && x * y * 256 >= 65536 * 256 * 3);
});

Deno.test("launch: flat kernels take vec4s where every buffer holds whole vec4s", () => {
  const buffer = (size: number) => ({ size }) as GPUBuffer;
  assertEquals(flatLaunch(4099, [buffer(16400), buffer(16400)]), {
    entryPoint: "main_vec4",
    workgroups: [2, 1], // 1025 vec4s, 4 per invocation: 257 invocations
  });
  assertEquals(flatLaunch(4099, [buffer(16400), buffer(16396)]), {
    entryPoint: "main",
    workgroups: [17, 1],
  });
  assertEquals(flatLaunch(3, [buffer(12)]), { entryPoint: "main", workgroups: [1, 1] });
});

Deno.test("watchdog: a wait that never ends becomes a GpuTimeoutError", async () => {
  await assertRejects(
    () => withWatchdog(new Promise(() => {}), "test wait", 30),
    GpuTimeoutError,
    "test wait waited 30 ms",
  );
  assertEquals(await withWatchdog(Promise.resolve(5), "quick", 1000), 5);
});

gpuTest("pool: memory is reused, not reallocated, across a loop", async () => {
  const pool = gpu().pool;
  const warm = zeros([1000]);
  warm.dispose();
  const allocations = pool.counters.allocations;
  const live = pool.counters.liveBytes;
  for (let i = 0; i < 50; i++) {
    const a = full([1000], i);
    const b = zeros([990]);
    a.dispose();
    b.dispose();
  }
  assertTrue(pool.counters.allocations <= allocations + 1, "allocations grew inside the loop");
  assertEquals(pool.counters.liveBytes, live);
  await gpu().sync();
  pool.trim();
  assertEquals(pool.idleBytes, 0);
});

gpuTest("pool: tracking notes each span a buffer was handed out, by the clock", () => {
  const pool = gpu().pool;
  let clock = 0;
  const before = pool.acquire(1 << 20); // handed out before tracking: its contents may matter
  pool.beginTracking(() => clock);
  clock = 1;
  const first = pool.acquire(3 << 20);
  clock = 3;
  pool.release(first);
  clock = 5;
  const again = pool.acquire(3 << 20); // the same class: the same buffer, a second span
  assertTrue(again === first, "the pool reused the idle buffer");
  clock = 7;
  pool.release(again);
  pool.release(before);
  const { taken, spans } = pool.endTracking();
  assertEquals(new Set(taken), new Set([first, before]));
  assertEquals(spans.get(first), [[1, 3], [5, 7]]);
  assertEquals(spans.has(before), false);
  for (const buffer of taken) pool.release(buffer);
});

gpuTest("pipelines: one per kernel and constants, reused across shapes", () => {
  const before = gpu().pipelines.size;
  for (const size of [3, 300, 3000]) full([size], 1).dispose();
  assertTrue(gpu().pipelines.size <= before + 1);
});

gpuTest("pipelines: a compile failure names the kernel and gives line:column", async () => {
  const kernel = registerKernelSource(
    "broken_for_test",
    "@group(0) @binding(0) var<storage, read_write> out: array<f32>;\n" +
      "@compute @workgroup_size(1) fn main() { let x: f32 = 1u; out[0] = x; }\n",
  );
  const buffer = zeros([4]);
  gpu().dispatch({ kernel, buffers: [buffer.buffer], workgroups: [1] });
  const error = await assertRejects(
    () => gpu().sync(),
    KernelCompileError,
    "extra:broken_for_test",
  );
  assertTrue(/wgsl:2:\d+/.test(error.message), `no line:column in: ${error.message}`);
  await gpu().sync().catch(() => {}); // clear the follow-up validation errors
  buffer.dispose();
});

gpuTest("dispatch: workgroup counts beyond the device limit are refused with the values", () => {
  const buffer = zeros([4]);
  assertThrows(
    () =>
      gpu().dispatch({
        kernel: "tensor/fill",
        entryPoint: "main",
        buffers: [buffer.buffer],
        params: new Uint32Array([1, 0]),
        workgroups: [70000, 1, 1],
      }),
    GpuRuntimeError,
    "needs workgroups [70000, 1, 1]",
  );
  buffer.dispose();
});

gpuTest("readback: counters count one readback for several tensors read together", async () => {
  const counters = gpu().counters;
  const a = tensor([1, 2, 3]);
  const b = tensor([4]);
  const before = counters.readbacks;
  const [readA, readB] = await gpu().readMany([
    { buffer: a.buffer, bytes: a.byteLength },
    { buffer: b.buffer, bytes: b.byteLength },
  ]);
  assertEquals(counters.readbacks, before + 1);
  assertEquals(Array.from(new Float32Array(readA)), [1, 2, 3]);
  assertEquals(Array.from(new Float32Array(readB)), [4]);
  a.dispose();
  b.dispose();
});
