// Configuration resolution (src/train/config.ts) and the schedules built from it.
import { DINO_DEFAULTS, smallDataConfig } from "../../src/train/config.ts";
import { ConfigError, resolveConfig } from "../../src/train/validate.ts";
import { dinoSchedules } from "../../src/train/schedules.ts";
import { DINO_MULTI_CROP, dinoViews } from "../../src/data/multi_crop.ts";
import { assertEquals, assertThrows } from "../helpers/assert.ts";

Deno.test("config: the small preset's local crops follow the patch size asked for", () => {
  assertEquals(smallDataConfig(28).localSize, 16); // patch 4: 16 px, the multiple nearest 14
  assertEquals(smallDataConfig(28, 7).localSize, 14); // patch 7: two patches
  assertEquals(smallDataConfig(96).localSize, 48);
});

Deno.test("config: a fractional warm-up rounds to whole steps; negative values are refused", () => {
  const config = resolveConfig(DINO_DEFAULTS, { epochs: 2, warmupEpochs: 0.3 });
  const schedules = dinoSchedules(config, 100);
  // warm-up of 30 steps (DINO's linspace: the base lr at step 29), then the cosine from it
  const lr = Array.from(schedules.lr);
  assertEquals(lr.indexOf(Math.max(...lr)), 29);
  assertEquals(lr[30], lr[29]);
  assertEquals(lr[28] < lr[29] && lr[31] < lr[30], true);
  for (const key of ["warmupEpochs", "weightDecay", "localCrops", "clipGrad"]) {
    assertThrows(() => resolveConfig(DINO_DEFAULTS, { [key]: -1 }), ConfigError, key);
  }
});

Deno.test("config: colour augmentation keys reach every view and are range-checked", () => {
  const config = resolveConfig(DINO_DEFAULTS, {
    colorJitter: [0.5, 0.3, 0.8, 0.5],
    colorJitterProbability: 1,
    grayscaleProbability: 0.5,
  });
  const views = dinoViews({ ...DINO_MULTI_CROP, ...config });
  assertEquals(views.length, 2 + config.localCrops);
  for (const view of views) {
    assertEquals(
      [view.brightness, view.contrast, view.saturation, view.hue],
      [0.5, 0.3, 0.8, 0.5],
    );
    assertEquals([view.jitterProbability, view.grayscaleProbability], [1, 0.5]);
  }
  // DINO's values when nothing is set
  const paper = dinoViews(DINO_MULTI_CROP)[0];
  assertEquals(
    [paper.brightness, paper.contrast, paper.saturation, paper.hue, paper.jitterProbability],
    [0.4, 0.4, 0.2, 0.1, 0.8],
  );
  assertEquals(paper.grayscaleProbability, 0.2);
  assertThrows(
    () => resolveConfig(DINO_DEFAULTS, { colorJitter: [0.4, 0.4, 0.2, 0.7] }),
    ConfigError,
    "hue <= 0.5",
  );
  assertThrows(
    () => resolveConfig(DINO_DEFAULTS, { colorJitter: [0.4, 0.4, 0.2] }),
    ConfigError,
    "colorJitter",
  );
  assertThrows(
    () => resolveConfig(DINO_DEFAULTS, { grayscaleProbability: 1.5 }),
    ConfigError,
    "grayscaleProbability",
  );
});
