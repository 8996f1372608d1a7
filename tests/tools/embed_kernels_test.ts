import { assertEquals, assertRejects, assertThrows, assertTrue } from "../helpers/assert.ts";
import {
  generate,
  type IncludeReader,
  kernelForms,
  resolveIncludes,
} from "../../tools/embed_kernels.ts";

/** An include reader over in-memory files; counts the reads of each name. */
function memoryReader(files: Record<string, string>): IncludeReader & { reads: string[] } {
  const reads: string[] = [];
  const read = (name: string) => {
    reads.push(name);
    return Promise.resolve(Object.hasOwn(files, name) ? files[name] : undefined);
  };
  return Object.assign(read, { reads });
}

Deno.test("resolveIncludes: replaces include lines, nested, each file once", async () => {
  const read = memoryReader({
    "params.wgsl": "struct Params {\n  n: u32,\n}\n",
    "loads.wgsl": '// #include "params.wgsl"\nfn load(i: u32) -> f32 {\n  return x[i];\n}',
  });
  const kernel = [
    "// a kernel",
    '// #include "loads.wgsl"',
    '  //   #include "params.wgsl"  ',
    "@compute @workgroup_size(1)",
    "fn main() {}",
    '// #include "loads.wgsl"',
  ].join("\n");
  const resolved = await resolveIncludes("sample", kernel, read);
  assertEquals(
    resolved,
    [
      "// a kernel",
      "struct Params {",
      "  n: u32,",
      "}",
      "fn load(i: u32) -> f32 {",
      "  return x[i];",
      "}",
      "@compute @workgroup_size(1)",
      "fn main() {}",
    ].join("\n"),
  );
  assertEquals(read.reads, ["loads.wgsl", "params.wgsl"]);
});

Deno.test("resolveIncludes: leaves other comments and a kernel without includes alone", async () => {
  const source = '// see #include "x.wgsl" below\nfn f() {}\n// #include x.wgsl\n';
  assertEquals(await resolveIncludes("plain", source, memoryReader({})), source);
});

Deno.test("resolveIncludes: a circular include ends (each file once)", async () => {
  const read = memoryReader({
    "a.wgsl": '// #include "b.wgsl"\nconst A: u32 = 1u;',
    "b.wgsl": '// #include "a.wgsl"\nconst B: u32 = 2u;',
  });
  const resolved = await resolveIncludes("loop", '// #include "a.wgsl"', read);
  assertEquals(resolved, "const B: u32 = 2u;\nconst A: u32 = 1u;");
});

Deno.test("resolveIncludes: a missing include names the kernel, the include and the chain", async () => {
  const read = memoryReader({ "outer.wgsl": '// #include "inner.wgsl"' });
  await assertRejects(
    () => resolveIncludes("direct", '// #include "absent.wgsl"', read),
    Error,
    'kernel "direct" includes "absent.wgsl", but kernels/include/absent.wgsl does not exist',
  );
  await assertRejects(
    () => resolveIncludes("nested", '// #include "outer.wgsl"', read),
    Error,
    'kernel "nested" includes "inner.wgsl" (through outer.wgsl)',
  );
  await assertRejects(
    () => resolveIncludes("escape", '// #include "../softmax.wgsl"', read),
    Error,
    'kernel "escape" includes "../softmax.wgsl": an include must be a file name',
  );
});

Deno.test("kernelForms and swaps: a form reads other includes, nested ones too", async () => {
  const read = memoryReader({
    "loads.wgsl": '// #include "inputs.wgsl"\nfn load(i: u32) -> f32 {\n  return read_input(i);\n}',
    "inputs.wgsl": "var<storage> x: array<f32>;",
    "inputs_f16.wgsl": "var<storage> x: array<u32>;",
  });
  const kernel = '// #form f16: inputs.wgsl -> inputs_f16.wgsl\n// #include "loads.wgsl"';
  const forms = kernelForms("sample", kernel);
  assertEquals(forms.map((form) => [form.name, [...form.swaps]]), [
    ["f16", [["inputs.wgsl", "inputs_f16.wgsl"]]],
  ]);
  const plain = await resolveIncludes("sample", kernel, read);
  const half = await resolveIncludes("sample", kernel, read, forms[0].swaps);
  assertTrue(plain.includes("array<f32>") && !plain.includes("array<u32>"), plain);
  assertTrue(half.includes("array<u32>") && !half.includes("array<f32>"), half);
  assertEquals(half.replace("array<u32>", "array<f32>"), plain);
  // a swap of an include the kernel never reaches, and a malformed form line, are errors
  await assertRejects(
    () => resolveIncludes("sample", kernel, read, new Map([["input.wgsl", "inputs_f16.wgsl"]])),
    Error,
    'kernel "sample" swaps "input.wgsl" for "inputs_f16.wgsl" in a form, but never includes',
  );
  assertThrows(
    () => kernelForms("bad", "// #form f16: inputs.wgsl => inputs_f16.wgsl"),
    Error,
    'kernel "bad" form "f16": "inputs.wgsl => inputs_f16.wgsl" is not',
  );
});

Deno.test("generate: kernels are flat WGSL keyed family/name; include files get no entry", async () => {
  const text = await generate();
  assertTrue(!text.includes("#include"), "an include line was left in the generated module");
  const keys = [...text.matchAll(/^ {2}"([^"]+)": /gm)].map((match) => match[1]);
  assertTrue(keys.includes("attention/forward"), `attention/forward missing from ${keys}`);
  assertTrue(keys.includes("matmul/subgroup"), `matmul/subgroup missing from ${keys}`);
  // a form entry (attention/subgroup_forward's `#form f16`) with the f16 bindings swapped in
  const forward = /^ {2}"attention\/subgroup_forward_f16": (".*"),$/m.exec(text);
  assertTrue(forward !== null, `attention/subgroup_forward_f16 missing from ${keys}`);
  assertTrue(JSON.parse(forward[1]).includes("alias InputVec = vec2u;"));
  for await (const entry of Deno.readDir(new URL("../../kernels/include/", import.meta.url))) {
    const name = entry.name.replace(/\.wgsl$/, "");
    assertTrue(
      !keys.includes(name) && !keys.includes(`include/${name}`),
      `include ${entry.name} has its own kernel entry`,
    );
  }
  assertTrue(
    keys.every((key) => /^[a-z]+\/[a-z0-9_]+$/.test(key)),
    `keys are family/name: ${keys}`,
  );
});
