import { assertEquals, assertThrows, assertTrue } from "../../helpers/assert.ts";
import { CheckpointError } from "../../../src/io/safetensors.ts";
import { rebuildTensor } from "../../../src/io/pickle/torch_globals.ts";
import { unpickle } from "../../../src/io/pickle/unpickle.ts";
import {
  PickleObject,
  type PickleValue,
  type TorchStorage,
  UnpickledTensor,
} from "../../../src/io/pickle/values.ts";

const FIXTURES = new URL("../../fixtures/checkpoints/", import.meta.url);

/** Pickle bytes from opcodes (numbers) and raw text or byte pieces. */
function pickle(...parts: (number | string | number[])[]): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === "number") out.push(part);
    else if (typeof part === "string") out.push(...new TextEncoder().encode(part));
    else out.push(...part);
  }
  return new Uint8Array(out);
}

function shortText(text: string): number[] {
  const bytes = new TextEncoder().encode(text);
  return [0x8c, bytes.length, ...bytes];
}

Deno.test("unpickle: refuses the os.system pickle by name without running it", async () => {
  const bytes = await Deno.readFile(new URL("malicious.pkl", FIXTURES));
  const error = assertThrows(() => unpickle(bytes), CheckpointError);
  assertTrue(
    /refusing pickle global "(posix|os)\.system"/.test(error.message),
    `message was: ${error.message}`,
  );
});

Deno.test("unpickle: decodes containers, numbers and strings", () => {
  const bytes = pickle(
    0x80,
    2,
    0x7d,
    0x94,
    0x28, // PROTO 2, EMPTY_DICT, MEMOIZE, MARK
    shortText("int"),
    0x4a,
    [0xfe, 0xff, 0xff, 0xff], // BININT -2
    shortText("small"),
    0x4d,
    [0x34, 0x12], // BININT2 0x1234
    shortText("long"),
    0x8a,
    9,
    [0, 0, 0, 0, 0, 0, 0, 0, 1], // LONG1 2^64
    shortText("negative"),
    0x8a,
    2,
    [0x00, 0xff], // LONG1 -256
    shortText("float"),
    0x47,
    [0x3f, 0xf8, 0, 0, 0, 0, 0, 0], // BINFLOAT 1.5
    shortText("list"),
    0x5d,
    0x28,
    0x88,
    0x89,
    0x4e,
    0x65, // [True, False, None]
    shortText("tuple"),
    0x4b,
    1,
    0x4b,
    2,
    0x4b,
    3,
    0x87, // (1, 2, 3)
    shortText("self"),
    0x68,
    0, // BINGET 0: the dict itself
    shortText("text"),
    0x58,
    [3, 0, 0, 0],
    "\u00e9a", // BINUNICODE "éa"
    shortText("bytes"),
    0x43,
    2,
    [9, 8], // SHORT_BINBYTES
    0x75,
    0x2e, // SETITEMS, STOP
  );
  const value = unpickle(bytes) as Map<PickleValue, PickleValue>;
  assertEquals(value.get("int"), -2);
  assertEquals(value.get("small"), 0x1234);
  assertEquals(value.get("long"), 2n ** 64n);
  assertEquals(value.get("negative"), -256);
  assertEquals(value.get("float"), 1.5);
  assertEquals(value.get("list"), [true, false, null]);
  assertEquals(value.get("tuple"), [1, 2, 3]);
  assertEquals(value.get("self") === value, true);
  assertEquals(value.get("text"), "éa");
  assertEquals(value.get("bytes"), new Uint8Array([9, 8]));
});

Deno.test("unpickle: argparse.Namespace is inert unless disallowed", () => {
  const bytes = pickle(
    0x80,
    2,
    0x63,
    "argparse\nNamespace\n",
    0x29,
    0x81, // GLOBAL, EMPTY_TUPLE, NEWOBJ
    0x7d,
    shortText("lr"),
    0x47,
    [0x3f, 0xe0, 0, 0, 0, 0, 0, 0],
    0x73,
    0x62,
    0x2e, // BUILD
  );
  const value = unpickle(bytes);
  assertTrue(value instanceof PickleObject);
  assertEquals(value.className, "argparse.Namespace");
  assertEquals(value.attributes.get("lr"), 0.5);
  assertThrows(
    () => unpickle(bytes, { inertClasses: [] }),
    CheckpointError,
    `refusing pickle global "argparse.Namespace"`,
  );
});

Deno.test("unpickle: refuses other globals and opcodes by name", () => {
  const stackGlobal = pickle(0x80, 4, shortText("subprocess"), shortText("Popen"), 0x93, 0x2e);
  assertThrows(
    () => unpickle(stackGlobal),
    CheckpointError,
    `refusing pickle global "subprocess.Popen"`,
  );
  const builtins = pickle(0x80, 2, 0x63, "__builtin__\neval\n", 0x2e);
  assertThrows(
    () => unpickle(builtins),
    CheckpointError,
    `refusing pickle global "__builtin__.eval"`,
  );
  assertThrows(
    () => unpickle(pickle("I1\n.")),
    CheckpointError,
    "refusing pickle opcode INT (0x49)",
  );
  assertThrows(
    () => unpickle(pickle(0x80, 2, 0x82, 1, 0x2e)),
    CheckpointError,
    "refusing pickle opcode EXT1 (0x82)",
  );
  assertThrows(
    () => unpickle(pickle(0x80, 2, 0xff)),
    CheckpointError,
    "refusing pickle opcode unknown (0xff)",
  );
  const reduceInert = pickle(0x80, 2, 0x5d, 0x29, 0x52, 0x2e); // REDUCE of a list
  assertThrows(() => unpickle(reduceInert), CheckpointError, "REDUCE of a non-global");
  const build = pickle(0x80, 2, 0x5d, 0x7d, 0x62, 0x2e); // BUILD on a list
  assertThrows(() => unpickle(build), CheckpointError, "BUILD on tuple/list");
});

Deno.test("unpickle: truncated pickles say so", async () => {
  const bytes = await Deno.readFile(new URL("malicious.pkl", FIXTURES));
  for (const cut of [1, 3, 10]) {
    assertThrows(() => unpickle(bytes.subarray(0, cut)), CheckpointError, "truncated");
  }
  assertThrows(() => unpickle(pickle(0x80, 2, 0x4e)), CheckpointError, "no STOP");
  assertThrows(() => unpickle(pickle(0x80, 2, 0x30, 0x2e)), CheckpointError, "stack underflow");
  assertThrows(() => unpickle(pickle(0x80, 2, 0x68, 4, 0x2e)), CheckpointError, "memo entry 4");
});

Deno.test("unpickle: rebuildTensor gathers strided views and checks bounds", () => {
  const storage: TorchStorage = {
    kind: "storage",
    dtype: "F32",
    data: Float32Array.from({ length: 12 }, (_, i) => i),
  };
  // a 3 x 2 view at offset 1 with strides (1, 4): element [i][j] = 1 + i + 4 j
  const view = rebuildTensor([storage, 1, [3, 2], [1, 4], false, new Map()]);
  assertTrue(view instanceof UnpickledTensor);
  assertEquals(view.shape, [3, 2]);
  assertEquals(Array.from(view.data as Float32Array), [1, 5, 2, 6, 3, 7]);
  const contiguous = rebuildTensor([storage, 2, [2, 3], [3, 1], true, new Map()]);
  assertEquals(Array.from(contiguous.data as Float32Array), [2, 3, 4, 5, 6, 7]);
  assertEquals(contiguous.requiresGrad, true);
  const broadcast = rebuildTensor([storage, 0, [2, 2], [0, 1], false, new Map()]);
  assertEquals(Array.from(broadcast.data as Float32Array), [0, 1, 0, 1]);
  assertThrows(
    () => rebuildTensor([storage, 4, [3, 3], [3, 1], false, new Map()]),
    CheckpointError,
    "reach element 12 of a F32 storage of 12",
  );
});
