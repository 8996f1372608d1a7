// `dinogpu demo`: a shortened run on its built-in default ends with the k-NN line; real data gets
// its own preset.
import { Command } from "commander";
import { assertEquals, assertTrue } from "../helpers/assert.ts";
import { configFromFlags } from "../../cli/commands/train_options.ts";
import { DEMO_DEFAULTS, demoCommand, demoDefaults } from "../../cli/commands/demo.ts";
import { capturingConsole, tinyNetworkFlags } from "../helpers/cli.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

gpuTest(
  "demo: trains on its built-in default and prints knn_top1 before and after",
  () =>
    withTempDir(async (out) => {
      const printed = await capturingConsole(() =>
        new Command().exitOverride().addCommand(demoCommand()).parseAsync([
          "demo",
          "--synthetic-count",
          "60",
          ...tinyNetworkFlags(),
          "--max-steps",
          "2",
          "--out",
          out,
        ], { from: "user" })
      );
      // the run's curves, drawn at its checkpoint and at the end
      const png = await Deno.readFile(`${out}/curves.png`);
      assertEquals([...png.subarray(1, 4)], [80, 78, 71]); // "PNG"
      const errors = printed.error;
      const text = printed.log.join("\n");
      assertTrue(errors.includes(`curves ${out}/curves.png`), errors.join("\n"));
      assertTrue(/trained 2 steps/.test(text), text);
      assertTrue(/^knn_top1 before=\d+\.\d\d after=\d+\.\d\d$/m.test(text), text);
      // the built-in default, sized by --synthetic-count
      const source = `"${DEMO_DEFAULTS.data}:60"`;
      assertTrue(
        errors.some((line) => line.includes(source)),
        `${source} in\n${errors.join("\n")}`,
      );
    }),
);

Deno.test("demo: real data gets one epoch of its preset, the generated sets the demo's ViT", async () => {
  assertEquals(demoDefaults(undefined), DEMO_DEFAULTS);
  assertEquals(demoDefaults("textures:60"), DEMO_DEFAULTS);
  const textures = await configFromFlags({}, demoDefaults(undefined));
  assertEquals([textures.data, textures.patchSize, textures.imageSize], ["textures", 8, 32]);
  // the textures demo's patch 8 does not divide 28 px: Fashion-MNIST must not inherit it
  const fashion = await configFromFlags({ data: "fashion-mnist" }, demoDefaults);
  assertEquals(
    [fashion.patchSize, fashion.embedDim, fashion.epochs, fashion.out],
    [7, 64, 1, DEMO_DEFAULTS.out],
  );
  // the data may come from --set or a config file as well as from --data
  const set = await configFromFlags({ set: ['data="fashion-mnist"'] }, demoDefaults);
  assertEquals([set.data, set.patchSize, set.epochs], ["fashion-mnist", 7, 1]);
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(file, JSON.stringify({ data: "fashion-mnist", epochs: 2 }));
    const fromFile = await configFromFlags({ config: file }, demoDefaults);
    assertEquals([fromFile.patchSize, fromFile.epochs], [7, 2]);
  } finally {
    await Deno.remove(file);
  }
});
