// Per-kernel GPU timing (src/gpu/profiler.ts) through `Gpu.startProfiling`.
import { gpu } from "../../src/gpu/device.ts";
import { formatKernelTimes } from "../../src/gpu/profiler.ts";
import { matmul } from "../../src/ops/matmul/forward.ts";
import { scale } from "../../src/ops/elementwise/forward.ts";
import { tensor } from "../../src/tensor/tensor.ts";
import { assertEquals, assertTrue } from "../helpers/assert.ts";
import { gpuTest } from "../helpers/gpu_test.ts";

gpuTest("profiler: kernel times by name, with the matmul shape", async () => {
  const runtime = gpu();
  if (!runtime.startProfiling()) {
    // the GL backend has no timestamp queries: profiling says no and changes nothing
    assertEquals(runtime.profiler, undefined);
    return;
  }
  const a = tensor(Array.from({ length: 64 * 32 }, (_, i) => i % 7), [64, 32]);
  const b = tensor(Array.from({ length: 32 * 16 }, (_, i) => i % 5), [32, 16]);
  const products = [matmul(a, b), matmul(a, b)];
  const scaled = scale(products[0], 2);
  const times = await runtime.stopProfiling();
  const product = times.find((time) => time.name.includes("64x16x32"));
  assertTrue(product !== undefined, `no matmul 64x16x32 in ${times.map((t) => t.name)}`);
  assertEquals(product!.launches, 2);
  const scaling = times.find((time) => time.name.startsWith("elementwise/unary"));
  assertEquals(scaling?.launches, 1);
  assertTrue(times.every((time) => time.milliseconds >= 0 && Number.isFinite(time.milliseconds)));
  const table = formatKernelTimes(times);
  assertTrue(table.includes("64x16x32") && table.includes("share"), table);
  // the work still runs correctly with one pass per dispatch
  const values = await scaled.read();
  for (let row = 0; row < 64; row += 9) {
    for (let column = 0; column < 16; column += 5) {
      let expected = 0;
      for (let k = 0; k < 32; k++) expected += ((row * 32 + k) % 7) * ((k * 16 + column) % 5);
      assertEquals(values[row * 16 + column], 2 * expected);
    }
  }
  for (const t of [a, b, ...products, scaled]) t.dispose();
});
