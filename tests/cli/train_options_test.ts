// `dinogpu train`'s options: what a resumed run takes from the command line and what it ignores.
import { configFromFlags, resumedConfig } from "../../cli/commands/train_options.ts";
import { UserError } from "../../cli/run.ts";
import { DINO_DEFAULTS } from "../../src/train/config.ts";
import { assertEquals, assertThrows } from "../helpers/assert.ts";

Deno.test("train options: --resume takes the run's length, evaluation and high-res phase, says what it ignores", async () => {
  const saved = await configFromFlags({ data: "fashion-mnist", epochs: 2, out: "runs/a" });
  const { config, ignored } = resumedConfig(saved, "runs/moved", {
    epochs: 5,
    maxSteps: 40,
    evalTrainLimit: 1000,
    embedDim: 128,
    lr: 0.1,
    out: "runs/elsewhere",
    set: ["globalSize=21"],
    preset: "dino",
    highResPhase: { highResSize: 35, highResSteps: 10 },
  });
  assertEquals(
    [
      config.epochs,
      config.maxSteps,
      config.evalTrainLimit,
      config.highResSize,
      config.highResSteps,
    ],
    [5, 40, 1000, 35, 10],
  );
  // the saved run's model and recipe stay; the run stays in the folder it was resumed from
  assertEquals([config.embedDim, config.lr, config.globalSize], [saved.embedDim, saved.lr, 28]);
  assertEquals(config.out, "runs/moved");
  assertEquals(ignored, ["--embed-dim", "--lr", "--set", "--preset"]);
});

Deno.test("train options: a resumed run's keys added since its checkpoint take their defaults", () => {
  const saved: Record<string, unknown> = { ...DINO_DEFAULTS, epochs: 3 };
  delete saved.highResMomentum;
  const { config, ignored } = resumedConfig(saved, "runs/a", {});
  assertEquals(config.highResMomentum, DINO_DEFAULTS.highResMomentum);
  assertEquals(config.epochs, 3);
  assertEquals(ignored, []);
});

Deno.test("train options: a high-res phase the resumed model cannot take is a user error", async () => {
  const saved = await configFromFlags({ data: "fashion-mnist" });
  assertThrows(
    () => resumedConfig(saved, "runs/a", { highResPhase: { highResSize: 30, highResSteps: 5 } }),
    UserError,
    "not a multiple of patchSize",
  );
});
