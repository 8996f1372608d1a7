import { assertEquals, assertThrows } from "../helpers/assert.ts";
import { readNpy, writeNpy } from "../../src/io/npy.ts";
import { CheckpointError } from "../../src/io/safetensors.ts";

const FIXTURES = new URL("../fixtures/checkpoints/", import.meta.url);
const expected = JSON.parse(await Deno.readTextFile(new URL("expected.json", FIXTURES))) as {
  npy: { shape: number[]; values: number[] };
};

Deno.test("npy: writeNpy gives numpy.save's bytes", async () => {
  const bytes = await Deno.readFile(new URL("array.npy", FIXTURES));
  const written = writeNpy(new Float32Array(expected.npy.values), expected.npy.shape);
  assertEquals(written, bytes);
});

Deno.test("npy: readNpy reads numpy.save's file", async () => {
  const { shape, data } = readNpy(await Deno.readFile(new URL("array.npy", FIXTURES)));
  assertEquals(shape, [2, 3, 4]);
  assertEquals(Array.from(data), expected.npy.values.map(Math.fround));
});

Deno.test("npy: round-trips 1-d, 0-d and empty arrays", () => {
  for (const shape of [[5], [], [0, 3], [1, 1, 7]]) {
    const count = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: count }, (_, i) => i * 0.75 - 2);
    const bytes = writeNpy(data, shape);
    assertEquals((bytes.length - data.byteLength) % 64, 0);
    const back = readNpy(bytes);
    assertEquals(back.shape, shape);
    assertEquals(Array.from(back.data), Array.from(data));
  }
  const header = new TextDecoder().decode(writeNpy(new Float32Array(5), [5]).subarray(10, 64));
  assertEquals(header.includes("'shape': (5,)"), true);
});

Deno.test("npy: bad input says what failed", async () => {
  const bytes = await Deno.readFile(new URL("array.npy", FIXTURES));
  assertThrows(() => readNpy(bytes.subarray(0, bytes.length - 4)), CheckpointError, "truncated");
  assertThrows(() => readNpy(new Uint8Array(12)), CheckpointError, "magic");
  assertThrows(() => writeNpy(new Float32Array(5), [2, 3]), CheckpointError, "needs 6 elements");
  const fortran = writeNpy(new Float32Array(4), [2, 2]);
  fortran.set(new TextEncoder().encode("'fortran_order': True, "), 10 + 17);
  assertThrows(() => readNpy(fortran), CheckpointError, "Fortran-order");
});
