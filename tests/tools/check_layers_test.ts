import { assertEquals, assertTrue } from "../helpers/assert.ts";
import {
  checkLayers,
  findCycles,
  parseImports,
  placement,
  readTree,
} from "../../tools/check_layers.ts";

/** Runs the guard's command on `root`; returns its exit code and output. */
async function runGuard(root: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = new URL("../../tools/check_layers.ts", import.meta.url).pathname;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", script, root],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Writes `files` (path from the root -> text) below a new temporary folder; returns it. */
async function fakeTree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir();
  for (const [path, text] of Object.entries(files)) {
    const at = `${root}/${path}`;
    await Deno.mkdir(at.slice(0, at.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(at, text);
  }
  return root;
}

const CLEAN = {
  "mod.ts": 'export * from "./src/io/model_file.ts";\n',
  "src/gpu/device.ts": "export const device = 1;\n",
  "src/tensor/tensor.ts": 'import { device } from "../gpu/device.ts";\nexport const t = device;\n',
  "src/nn/vit.ts": 'import { t } from "../tensor/tensor.ts";\nexport const vit = t;\n',
  "src/io/model_file.ts": [
    'import { vit } from "../nn/vit.ts";',
    'import type { Crop } from "../data/crops.ts";',
    "export const load = (crop: Crop) => vit + crop;",
  ].join("\n"),
  "src/data/crops.ts": "export type Crop = number;\n",
  "src/train/curriculum.ts": 'import { load } from "../io/model_file.ts";\nexport { load };\n',
  "cli/main.ts": 'import { load } from "../src/train/curriculum.ts";\nconsole.log(load);\n',
};

Deno.test("check_layers: a clean tree passes with one OK line", async () => {
  const root = await fakeTree(CLEAN);
  try {
    const { code, stdout, stderr } = await runGuard(root);
    assertEquals([code, stderr], [0, ""]);
    assertTrue(/^layers OK: 8 modules/.test(stdout), stdout);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("check_layers: an upward import and a cycle fail, one line each", async () => {
  const root = await fakeTree({
    ...CLEAN,
    // io (layer 3) reaching up into train (layer 4)
    "src/io/model_file.ts": [
      'import { vit } from "../nn/vit.ts";',
      'import { blockOrder } from "../train/curriculum.ts";',
      "export const load = vit + blockOrder;",
    ].join("\n"),
    "src/train/curriculum.ts": "export const blockOrder = 2;\n",
    // a cycle inside one layer, one side through a re-export
    "src/gpu/device.ts": 'import { lanes } from "./lanes.ts";\nexport const device = lanes;\n',
    "src/gpu/lanes.ts": 'export { device as lanes } from "./device.ts";\n',
    // a type-only import upward is still reported
    "src/nn/vit.ts": [
      'import { t } from "../tensor/tensor.ts";',
      'import type { HostTensor } from "../io/host.ts";',
      "export const vit = t;",
      "export type Weights = HostTensor;",
    ].join("\n"),
    "src/io/host.ts": "export type HostTensor = number;\n",
  });
  try {
    const { code, stdout, stderr } = await runGuard(root);
    assertEquals([code, stdout], [1, ""]);
    assertEquals(stderr.trimEnd().split("\n"), [
      "src/io/model_file.ts imports src/train/curriculum.ts: io (layer 3) may not import train " +
      "(layer 4)",
      "src/nn/vit.ts imports src/io/host.ts: nn (layer 2) may not import io (layer 3) " +
      "(type-only import)",
      "import cycle: src/gpu/device.ts -> src/gpu/lanes.ts -> src/gpu/device.ts",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("check_layers: type-only cycles are no cycle; dynamic imports are edges", () => {
  const files = new Map([
    ["src/gpu/device.ts", 'import { check } from "./lanes.ts";\nexport class Gpu {}\n'],
    ["src/gpu/lanes.ts", 'import type { Gpu } from "./device.ts";\nexport const check = 1;\n'],
    ["src/eval/plot.ts", 'import { x } from "./knn.ts";\nexport const y = x;\n'],
    ["src/eval/knn.ts", 'export const x = 1;\nexport const load = () => import("./plot.ts");\n'],
  ]);
  assertEquals(checkLayers(files), [
    "import cycle: src/eval/knn.ts -> src/eval/plot.ts -> src/eval/knn.ts",
  ]);
});

Deno.test("check_layers: entry points, unknown folders and same-layer imports", () => {
  assertEquals(placement("src/browser.ts"), { layer: 5, name: "src/browser.ts" });
  assertEquals(placement("mod.ts"), { layer: 5, name: "mod.ts" });
  assertEquals(placement("cli/commands/knn.ts"), { layer: 5, name: "cli" });
  assertEquals(placement("src/optim/adamw.ts"), { layer: 1, name: "optim" });
  assertEquals(placement("src/misc/x.ts"), undefined);
  const files = new Map([
    ["src/misc/x.ts", "export const x = 1;\n"],
    ["src/io/preprocess.ts", 'import { MEAN } from "../data/imagenet.ts";\nexport { MEAN };\n'],
    ["src/data/imagenet.ts", "export const MEAN = [0.485];\n"],
    ["src/nn/vit.ts", 'import { run } from "../../cli/main.ts";\nexport { run };\n'],
    ["cli/main.ts", "export const run = 1;\n"],
  ]);
  assertEquals(checkLayers(files), [
    "src/misc/x.ts is in no layer: give its folder a layer in tools/check_layers.ts",
    "src/nn/vit.ts imports cli/main.ts: nn (layer 2) may not import cli (layer 5)",
  ]);
});

Deno.test("parseImports: every import form, none from comments or strings", () => {
  const source = [
    "/**",
    ' * @example import { no } from "./doc.ts";',
    " */",
    'import { a, type B } from "./a.ts";',
    'import type { C } from "./c.ts";',
    "import {",
    "  type D,",
    "  type E,",
    '} from "./d.ts";',
    'import * as f from "./f.ts";',
    'import "./side.ts";',
    'export { g } from "./g.ts";',
    'export type { H } from "./h.ts";',
    'export * from "./star.ts";',
    '// import { commented } from "./commented.ts";',
    "const text = 'import { q } from \"./string.ts\"';",
    'const pattern = /"(import)"/g;',
    "const template = `${text} import x from './template.ts'`;",
    'const lazy = await import("./lazy.ts");',
    'import x from "npm:thing";',
  ].join("\n");
  assertEquals(
    parseImports(source).map((edge) =>
      `${edge.specifier}${edge.typeOnly ? " type" : ""}${edge.dynamic ? " dynamic" : ""}`
    ),
    [
      "./a.ts",
      "./c.ts type",
      "./d.ts type",
      "./f.ts",
      "./side.ts",
      "./g.ts",
      "./h.ts type",
      "./star.ts",
      "./lazy.ts dynamic",
      "npm:thing",
    ],
  );
});

Deno.test("findCycles: one shortest cycle per strongly connected part, self-imports too", () => {
  const graph = new Map<string, Set<string>>([
    ["a", new Set(["b"])],
    ["b", new Set(["c", "a"])],
    ["c", new Set(["a"])],
    ["d", new Set(["d"])],
    ["e", new Set(["a"])],
  ]);
  assertEquals(findCycles(graph).map((cycle) => cycle.join(" -> ")).sort(), [
    "a -> b -> a",
    "d -> d",
  ]);
});

Deno.test("check_layers: the repository itself passes", async () => {
  const files = await readTree(new URL("../../", import.meta.url));
  assertTrue(files.has("mod.ts") && files.has("src/browser.ts") && files.has("cli/main.ts"));
  assertEquals(checkLayers(files), []);
});
