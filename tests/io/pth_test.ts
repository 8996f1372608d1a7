import { assertEquals, assertRejects, assertTrue } from "../helpers/assert.ts";
import { readPth, readPthFile, readPthObject } from "../../src/io/pth.ts";
import { CheckpointError } from "../../src/io/safetensors.ts";
import { type HostTensor, toFloat32 } from "../../src/tensor/host.ts";
import { PickleObject, type PickleValue, UnpickledTensor } from "../../src/io/pickle/values.ts";

const FIXTURES = new URL("../fixtures/checkpoints/", import.meta.url);
const path = (name: string) => new URL(name, FIXTURES).pathname;

interface Expected {
  dtype: string;
  shape: number[];
  values: number[];
}

const expected = JSON.parse(await Deno.readTextFile(path("expected.json"))) as {
  state_dict: Record<string, Expected>;
  transposed_stride: number[];
  dino: {
    teacher: Record<string, Expected>;
    student: Record<string, Expected>;
    epoch: number;
    args: Record<string, unknown>;
  };
};

function values(tensor: HostTensor): number[] {
  if (tensor.dtype === "F16" || tensor.dtype === "BF16") return Array.from(toFloat32(tensor));
  return Array.from(tensor.data as ArrayLike<number | bigint>, Number);
}

function assertTensors(
  actual: Map<string, HostTensor>,
  want: Record<string, Expected>,
  file: string,
) {
  assertEquals([...actual.keys()].sort(), Object.keys(want).sort(), file);
  for (const [name, tensor] of actual) {
    assertEquals(tensor.dtype, want[name].dtype, `${file} ${name}`);
    assertEquals(tensor.shape, want[name].shape, `${file} ${name}`);
    assertEquals(values(tensor), want[name].values, `${file} ${name}`);
  }
}

function stripped(record: Record<string, Expected>): Record<string, Expected> {
  return Object.fromEntries(
    Object.entries(record).map((
      [key, value],
    ) => [key.replace(/^(module\.)?(backbone\.)?/, ""), value]),
  );
}

Deno.test("pth: reads torch.save's state dict exactly, in stored, ZIP64 and deflated archives", async () => {
  for (const file of ["state_dict.pth", "state_dict_zip64.pth", "state_dict_deflate.pth"]) {
    const tensors = await readPthFile(path(file));
    assertTensors(tensors, expected.state_dict, file);
  }
  assertEquals(expected.transposed_stride, [1, 5]);
  const tensors = await readPth(await Deno.readFile(path("state_dict.pth")));
  assertEquals(
    tensors.get("i64")!.data,
    new BigInt64Array([-3n, 0n, 7n, 2n ** 40n + 1n, -(2n ** 35n)]),
  );
  assertEquals(tensors.get("scalar")!.shape, []);
  assertEquals(tensors.get("empty")!.data.length, 0);
});

Deno.test("pth: a DINO training checkpoint gives the teacher (or student) without prefixes", async () => {
  const teacher = await readPthFile(path("dino_checkpoint.pth"));
  assertTensors(teacher, stripped(expected.dino.teacher), "teacher");
  assertTrue(teacher.has("cls_token") && teacher.has("head.weight"));
  const student = await readPthFile(path("dino_checkpoint.pth"), { prefer: "student" });
  assertTensors(student, stripped(expected.dino.student), "student");
  const raw = await readPthFile(path("dino_checkpoint.pth"), { stripPrefixes: [] });
  assertEquals([...raw.keys()].sort(), Object.keys(expected.dino.teacher).sort());
});

Deno.test("pth: readPthObject keeps epoch, args and optimizer state as inert values", async () => {
  const root = await readPthObject(await Deno.readFile(path("dino_checkpoint.pth")));
  assertTrue(root instanceof Map);
  assertEquals(root.get("epoch"), expected.dino.epoch);
  const args = root.get("args");
  assertTrue(args instanceof PickleObject);
  assertEquals(args.className, "argparse.Namespace");
  const attributes = Object.fromEntries(args.attributes as Map<string, PickleValue>);
  assertEquals(attributes, { ...expected.dino.args, local_crops_scale: [0.05, 0.4] });
  const optimizer = root.get("optimizer") as Map<PickleValue, PickleValue>;
  const state = (optimizer.get("state") as Map<PickleValue, PickleValue>).get(0) as Map<
    PickleValue,
    PickleValue
  >;
  assertEquals(state.get("step"), 3);
  assertTrue(state.get("exp_avg") instanceof UnpickledTensor);
});

Deno.test("pth: the os.system checkpoint is refused by name, naming the file", async () => {
  const file = path("malicious.pth");
  const error = await assertRejects(() => readPthFile(file), CheckpointError, file);
  assertTrue(/refusing pickle global "(posix|os)\.system"/.test(error.message), error.message);
});

Deno.test("pth: truncated and corrupt checkpoints give errors that name the file", async () => {
  const bytes = await Deno.readFile(path("state_dict.pth"));
  const temp = await Deno.makeTempFile({ suffix: ".pth" });
  try {
    for (const length of [0, 100, bytes.length >> 1, bytes.length - 1]) {
      await Deno.writeFile(temp, bytes.subarray(0, length));
      await assertRejects(() => readPthFile(temp), CheckpointError, `${temp}: zip:`);
    }
    const corrupt = bytes.slice();
    corrupt[200] ^= 0x55; // inside data.pkl
    await Deno.writeFile(temp, corrupt);
    await assertRejects(() => readPthFile(temp), CheckpointError, "CRC-32");
    await Deno.writeFile(temp, await Deno.readFile(path("malicious.pkl")));
    await assertRejects(() => readPthFile(temp), CheckpointError, "legacy torch.save format");
  } finally {
    await Deno.remove(temp);
  }
});
