import { assertEquals, assertRejects, assertThrows, assertTrue } from "../helpers/assert.ts";
import {
  CheckpointError,
  readSafetensors,
  readSafetensorsFile,
  writeSafetensors,
} from "../../src/io/safetensors.ts";
import { type HostTensor, toFloat32 } from "../../src/tensor/host.ts";

const FIXTURES = new URL("../fixtures/checkpoints/", import.meta.url);
const FIXTURE_PATH = new URL("weights.safetensors", FIXTURES).pathname;

interface Expected {
  dtype: string;
  shape: number[];
  values: number[];
}

const expected = JSON.parse(
  await Deno.readTextFile(new URL("expected.json", FIXTURES)),
) as { safetensors: Record<string, Expected>; safetensors_metadata: Record<string, string> };

function values(tensor: HostTensor): number[] {
  if (tensor.dtype === "F16" || tensor.dtype === "BF16") return Array.from(toFloat32(tensor));
  return Array.from(tensor.data as ArrayLike<number | bigint>, Number);
}

/** Safetensors bytes from a header object and a data section of `dataBytes` bytes. */
function craft(header: Record<string, unknown>, dataBytes: number, headerLength?: number) {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? json.length), true);
  out.set(json, 8);
  return out;
}

Deno.test("safetensors: reads the hand-written fixture exactly", async () => {
  const { tensors, metadata } = readSafetensors(await Deno.readFile(FIXTURE_PATH));
  assertEquals(metadata, expected.safetensors_metadata);
  assertEquals([...tensors.keys()], Object.keys(expected.safetensors));
  for (const [name, want] of Object.entries(expected.safetensors)) {
    const tensor = tensors.get(name)!;
    assertEquals(tensor.dtype, want.dtype, name);
    assertEquals(tensor.shape, want.shape, name);
    assertEquals(values(tensor), want.values, name);
  }
  assertEquals(tensors.get("steps")!.data, new BigInt64Array([1n, -2n, 2n ** 40n]));
});

Deno.test("safetensors: writing what was read gives the fixture's bytes back", async () => {
  const bytes = await Deno.readFile(FIXTURE_PATH);
  const { tensors, metadata } = readSafetensors(bytes);
  const written = writeSafetensors(tensors, metadata);
  assertEquals(written, bytes);
  const headerLength = Number(new DataView(written.buffer).getBigUint64(0, true));
  assertEquals(headerLength % 8, 0);
});

Deno.test("safetensors: round-trips every dtype, odd offsets and a scalar", () => {
  const tensors = new Map<string, HostTensor>([
    ["byte", { dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 255]) }],
    ["weights", { dtype: "F32", shape: [2, 2], data: new Float32Array([1.5, -2, 3.25, 1e-8]) }],
    ["scalar", { dtype: "F64", shape: [], data: new Float64Array([Math.PI]) }],
    ["ids", { dtype: "I64", shape: [2], data: new BigInt64Array([-(2n ** 62n), 7n]) }],
    ["small", { dtype: "I16", shape: [1, 2], data: new Int16Array([-300, 300]) }],
    ["none", { dtype: "F32", shape: [0, 4], data: new Float32Array(0) }],
  ]);
  const back = readSafetensors(writeSafetensors(tensors));
  assertEquals(back.metadata, {});
  for (const [name, tensor] of tensors) {
    const read = back.tensors.get(name)!;
    assertEquals(read.dtype, tensor.dtype);
    assertEquals(read.shape, tensor.shape);
    assertEquals(
      Array.from(read.data as ArrayLike<number>),
      Array.from(tensor.data as ArrayLike<number>),
    );
  }
});

Deno.test("safetensors: toFloat32 converts half, bfloat16 and wide types", () => {
  const half = toFloat32({
    dtype: "F16",
    shape: [6],
    data: new Uint16Array([0x3c00, 0xc000, 0x7c00, 0x0001, 0x7bff, 0x3555]),
  });
  assertEquals(Array.from(half), [1, -2, Infinity, 2 ** -24, 65504, Math.fround(0.333251953125)]);
  const brain = toFloat32({ dtype: "BF16", shape: [2], data: new Uint16Array([0x3f80, 0xc0a0]) });
  assertEquals(Array.from(brain), [1, -5]);
  const big = toFloat32({ dtype: "I64", shape: [2], data: new BigInt64Array([-3n, 2n ** 24n]) });
  assertEquals(Array.from(big), [-3, 16777216]);
  assertTrue(
    Number.isNaN(toFloat32({ dtype: "F16", shape: [1], data: new Uint16Array([0x7e00]) })[0]),
  );
});

Deno.test("safetensors: malformed headers say what failed and name the tensor", () => {
  const f32 = (offsets: number[], shape = [2]) => ({ dtype: "F32", shape, data_offsets: offsets });
  assertThrows(() => readSafetensors(new Uint8Array(5)), CheckpointError, "too short");
  assertThrows(
    () => readSafetensors(craft({ a: f32([0, 8]) }, 8, 10_000)),
    CheckpointError,
    "header length 10000 goes beyond the file",
  );
  assertThrows(
    () => readSafetensors(craft({ a: f32([0, 8]) }, 4)),
    CheckpointError,
    `tensor "a": data_offsets [0, 8] go beyond the data (4 bytes`,
  );
  assertThrows(
    () => readSafetensors(craft({ a: f32([0, 12]) }, 12)),
    CheckpointError,
    `tensor "a": data_offsets [0, 12] hold 12 bytes but F32 [2] needs 8`,
  );
  assertThrows(
    () => readSafetensors(craft({ a: f32([0, 8]), b: f32([4, 12]) }, 12)),
    CheckpointError,
    `overlap tensor "a"`,
  );
  assertThrows(
    () => readSafetensors(craft({ a: f32([0, 8]), b: f32([12, 20]) }, 20)),
    CheckpointError,
    `tensor "b": data_offsets [12, 20] leave a hole at bytes [8, 12)`,
  );
  assertThrows(
    () => readSafetensors(craft({ a: f32([0, 8]) }, 12)),
    CheckpointError,
    "4 bytes after the last tensor are not indexed",
  );
  assertThrows(
    () => readSafetensors(craft({ a: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } }, 1)),
    CheckpointError,
    `tensor "a": unsupported dtype "F8_E4M3"`,
  );
  assertThrows(
    () => readSafetensors(craft({ a: f32([0, 8], [-2]) }, 8)),
    CheckpointError,
    `tensor "a": shape is not a list of sizes`,
  );
  assertThrows(
    () => readSafetensors(craft({ __metadata__: { n: 1 } }, 0)),
    CheckpointError,
    `__metadata__ value of "n" is not a string`,
  );
  assertThrows(
    () => writeSafetensors({ a: { dtype: "F32", shape: [3], data: new Float32Array(2) } }),
    CheckpointError,
    `tensor "a": F32 [3] needs 3 elements, data has 2`,
  );
});

Deno.test("safetensors: a truncated file's error names the file", async () => {
  const bytes = await Deno.readFile(FIXTURE_PATH);
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  try {
    for (const length of [4, 20, bytes.length - 3]) {
      await Deno.writeFile(path, bytes.subarray(0, length));
      await assertRejects(
        () => readSafetensorsFile(path),
        CheckpointError,
        `${path}: safetensors:`,
      );
    }
    await assertRejects(() => readSafetensorsFile(`${path}.missing`), CheckpointError, ".missing");
  } finally {
    await Deno.remove(path);
  }
});
