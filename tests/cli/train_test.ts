// `dinogpu train`'s configuration: presets, data-dependent recipes and their overrides; the
// run's curves.
import {
  assertEquals,
  assertRejects,
  assertThrows,
  assertTrue as assert,
} from "../helpers/assert.ts";
import { RunCurves } from "../../cli/commands/train.ts";
import { configFromFlags, parseHighResPhase } from "../../cli/commands/train_options.ts";
import { UserError } from "../../cli/run.ts";
import { decodeImage } from "../../src/io/image.ts";
import { autoPreset, MNIST_RECIPE } from "../../src/train/config.ts";
import { presetConfig } from "../../src/train/validate.ts";
import { ConfigError } from "../../src/train/validate.ts";
import { OutputWriteError } from "../../src/train/run_folder.ts";
import { FailingFileSystem } from "../helpers/failing_file_system.ts";

Deno.test("train: Fashion-MNIST gets the 28 px recipe; flags and other presets override it", async () => {
  const recipe = await configFromFlags({ data: "fashion-mnist" });
  for (const [key, value] of Object.entries(MNIST_RECIPE)) {
    assertEquals(recipe[key as keyof typeof recipe], value, key);
  }
  assertEquals([recipe.imageSize, recipe.globalSize, recipe.localSize], [28, 28, 14]);
  // the small-data preset's augmentation stays underneath (no blur on 28 px images)
  assertEquals(recipe.blurProbabilities, [0, 0, 0]);
  const patch4 = await configFromFlags({ data: "fashion-mnist", patchSize: 4, lr: 5e-4 });
  assertEquals([patch4.patchSize, patch4.localSize % 4, patch4.lr], [4, 0, 5e-4]);
  const small = await configFromFlags({ data: "fashion-mnist", preset: "small" });
  assertEquals([small.patchSize, small.embedDim], [4, 96]);
  const resized = await configFromFlags({ data: "fashion-mnist", imageSize: 32 });
  assertEquals([resized.patchSize, resized.embedDim], [4, 96]);
  await assertRejects(
    () => configFromFlags({ data: "fashion-mnist", preset: "tiny" }),
    Error,
    'one of auto, dino, small, mnist, dinov2, got "tiny"',
  );
});

Deno.test("train: the preset choice is the library's presetConfig, flags and all", async () => {
  assertEquals(autoPreset("fashion-mnist", 28), "mnist");
  assertEquals(autoPreset("fashion-mnist", 32), "small");
  assertEquals(autoPreset("textures:500", 64), "small");
  assertEquals(autoPreset("folder:/photos", 96), "small");
  assertEquals(autoPreset("folder:/photos", 224), "dino");
  const cases: [string | undefined, Record<string, unknown>][] = [
    [undefined, {}],
    ["auto", { data: "fashion-mnist" }],
    ["auto", { data: "fashion-mnist", patchSize: 4, lr: 5e-4 }],
    ["auto", { data: "textures", imageSize: 64 }],
    ["auto", { data: "folder:/photos" }],
    ["auto", { data: "folder:/photos", imageSize: 96 }],
    ["small", { data: "fashion-mnist" }],
    ["mnist", { data: "textures", imageSize: 28 }],
    ["dino", { data: "fashion-mnist" }],
    ["dinov2", { data: "fashion-mnist" }],
    ["dinov2", { data: "fashion-mnist", epochs: 50, lr: 0.001 }],
  ];
  for (const [preset, overrides] of cases) {
    assertEquals(
      await configFromFlags({ preset, ...overrides }),
      presetConfig((preset ?? "auto") as "auto", overrides),
      `${preset} ${JSON.stringify(overrides)}`,
    );
  }
  assertEquals(presetConfig("auto", { data: "folder:/photos" }).imageSize, 224);
  assertEquals(presetConfig("auto", { data: "synthetic" }).imageSize, 32);
  assertThrows(
    () => presetConfig("tiny" as "auto"),
    ConfigError,
    'preset must be one of auto, dino, small, mnist, dinov2, got "tiny"',
  );
});

Deno.test("train: RunCurves draws curves.png from metrics.jsonl and says a failure once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const said: string[] = [];
    const curves = new RunCurves(dir, (message) => said.push(message));
    await curves.draw(); // no metrics yet
    await curves.draw();
    assertEquals(curves.drawn, false);
    assertEquals(said.length, 1);
    assert(said[0].startsWith("curves.png not drawn: cannot read"), said[0]);
    const lines = [0, 10, 20].map((step) => JSON.stringify({ step, loss: 6 - step / 10 }));
    await Deno.writeTextFile(`${dir}/metrics.jsonl`, lines.join("\n") + "\n");
    await curves.draw();
    assertEquals(curves.drawn, true);
    assertEquals(curves.path, `${dir}/curves.png`);
    const image = decodeImage(await Deno.readFile(curves.path));
    assert(image.width > 100 && image.height > 100, `${image.width}x${image.height}`);
    assertEquals(said.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train: curves.png that cannot be written ends the run naming the last checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/step-00000008`);
    await Deno.writeTextFile(`${dir}/latest`, "step-00000008\n");
    const lines = [1, 2].map((step) => JSON.stringify({ step, loss: 6 - step / 10 }));
    await Deno.writeTextFile(`${dir}/metrics.jsonl`, lines.join("\n") + "\n");
    await Deno.writeTextFile(`${dir}/curves.png`, "the previous picture");
    const said: string[] = [];
    const full = new FailingFileSystem((operation) => operation === "writeFile");
    const curves = new RunCurves(dir, (message) => said.push(message), full);
    const error = await assertRejects(
      () => curves.draw(),
      OutputWriteError,
      `cannot write ${dir}/curves.png: no space left on device; the last good checkpoint is ` +
        `${dir}/step-00000008; free some space, then continue with --resume ${dir}`,
    );
    assert(!error.message.includes("\n"));
    assertEquals(said, []);
    assertEquals(await Deno.readTextFile(`${dir}/curves.png`), "the previous picture");
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name).sort();
    assertEquals(names, ["curves.png", "latest", "metrics.jsonl", "step-00000008"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train: --high-res-phase SIZE:STEPS sets the phase's keys; a malformed one is refused", async () => {
  assertEquals(parseHighResPhase("28:200"), { highResSize: 28, highResSteps: 200 });
  for (const bad of ["28", "28:0", "x:5", "28:5:1", "-7:5"]) {
    assertThrows(() => parseHighResPhase(bad), UserError, "--high-res-phase wants SIZE:STEPS");
  }
  const config = await configFromFlags({
    data: "fashion-mnist",
    highResPhase: parseHighResPhase("35:50"),
  });
  assertEquals([config.highResSize, config.highResSteps], [35, 50]);
  await assertRejects(
    () => configFromFlags({ data: "fashion-mnist", highResPhase: parseHighResPhase("30:50") }),
    UserError,
    "highResSize 30 is not a multiple of patchSize 7",
  );
});
