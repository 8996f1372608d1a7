// `dinogpu train`'s configuration: presets, data-dependent recipes and their overrides.
import { assertEquals, assertRejects } from "../helpers/assert.ts";
import { configFromFlags } from "../../cli/commands/train.ts";
import { MNIST_RECIPE } from "../../src/train/config.ts";

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
    'one of auto, dino, small, mnist, got "tiny"',
  );
});
