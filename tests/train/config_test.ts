// Configuration resolution (src/train/config.ts) and the schedules built from it.
import {
  ConfigError,
  DINO_DEFAULTS,
  resolveConfig,
  smallDataConfig,
} from "../../src/train/config.ts";
import { dinoSchedules } from "../../src/train/dino_trainer.ts";
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
