// Issue 22: the DINOv2 recipe keys against the official formulas (dinov2/utils/param_groups.py,
// dinov2/train/train.py build_schedulers, utils/config.py's sqrt_wrt_1024), DINO's kept as the
// defaults, and the dinov2 preset. CPU only; the GPU side is in recipe_gpu_test.ts.
import { DINO_DEFAULTS } from "../../src/train/config.ts";
import { backboneLayer, parameterMultipliers } from "../../src/train/param_groups.ts";
import { DINO_RECIPE, DINOV2_RECIPE, scaledLr } from "../../src/train/recipe.ts";
import { dinoSchedules, teacherTemperatureAt } from "../../src/train/schedules.ts";
import { ConfigError, presetConfig, resolveConfig } from "../../src/train/validate.ts";
import { blockDropPathRate, vitConfig } from "../../src/nn/vit.ts";
import { assertEquals, assertThrows } from "../helpers/assert.ts";
import { assertClose } from "../helpers/op_check.ts";

/** The official `get_vit_lr_decay_rate` for a backbone parameter name, written out plainly. */
function officialDecay(name: string, rate: number, layers: number): number {
  let layer = layers + 1;
  if (["pos_embed", "patch_embed", "mask_token", "cls_token"].some((key) => name.includes(key))) {
    layer = 0;
  } else if (name.startsWith("blocks.")) {
    layer = Number(name.split(".")[1]) + 1;
  }
  return rate ** (layers + 1 - layer);
}

Deno.test("param groups: layer-wise decay and the patch multiplier follow param_groups.py", () => {
  const config = { layerwiseDecay: 0.9, patchEmbedLrMultiplier: 0.2 };
  const depth = 3;
  const names: [string, number][] = [
    ["cls_token", 3],
    ["pos_embed", 3],
    ["register_tokens", 3],
    ["mask_token", 2],
    ["patch_embed.proj.weight", 4],
    ["patch_embed.proj.bias", 1],
    ["blocks.0.norm1.weight", 1],
    ["blocks.0.attn.qkv.weight", 2],
    ["blocks.1.ls1.gamma", 1],
    ["blocks.2.mlp.fc2.bias", 1],
    ["norm.weight", 1],
  ];
  for (const [name, rank] of names) {
    const got = parameterMultipliers(`backbone.${name}`, rank, depth, config);
    const patch = name.includes("patch_embed") ? 0.2 : 1;
    assertClose([got.lrMultiplier], [officialDecay(name, 0.9, depth) * patch], name, {
      absolute: 1e-15,
      relative: 1e-12,
    });
    // DINOv2: no weight decay on names ending in .bias or holding norm or gamma (the rank-1 ones)
    const official = name.endsWith(".bias") || name.includes("norm") || name.includes("gamma");
    assertEquals(got.weightDecayMultiplier, official ? 0 : 1, name);
  }
  // the values at a few layers: embeddings 0.9^4, block 0 0.9^3, the last block 0.9, norm 1
  assertEquals(backboneLayer("cls_token", 3), 0);
  assertEquals(backboneLayer("blocks.2.attn.qkv.weight", 3), 3);
  assertClose(
    ["cls_token", "blocks.0.attn.proj.weight", "blocks.2.attn.proj.weight", "norm.weight"].map(
      (name) => parameterMultipliers(`backbone.${name}`, 2, depth, config).lrMultiplier,
    ),
    [0.6561, 0.729, 0.9, 1],
    "decay by layer",
  );
  // the heads are outside the backbone: full rate; the weight-norm gain is decayed, biases not
  for (const [name, rank, decayed] of [["head.mlp.0.weight", 2, 1], ["head.mlp.0.bias", 1, 0]]) {
    const got = parameterMultipliers(name as string, rank as number, depth, config);
    assertEquals([got.lrMultiplier, got.weightDecayMultiplier], [1, decayed], name as string);
  }
  assertEquals(
    parameterMultipliers("ibot_head.last_layer.weight_g", 2, depth, config).weightDecayMultiplier,
    1,
  );
  // DINO's defaults: every multiplier 1
  assertEquals(
    parameterMultipliers("backbone.patch_embed.proj.weight", 4, depth, DINO_RECIPE).lrMultiplier,
    1,
  );
});

Deno.test("lr scaling: linear per 256 (DINO) and sqrt per 1024 (DINOv2)", () => {
  assertEquals(scaledLr(5e-4, 512, "linear256"), 1e-3);
  assertClose([scaledLr(0.004, 128, "sqrt1024")], [0.004 * Math.sqrt(0.125)], "sqrt", {
    absolute: 1e-15,
  });
  assertEquals(scaledLr(0.004, 1024, "sqrt1024"), 0.004);
  const config = resolveConfig(DINO_DEFAULTS, {
    lrScaling: "sqrt1024",
    lr: 0.004,
    batchSize: 256,
    epochs: 2,
    warmupEpochs: 1,
  });
  const lr = dinoSchedules(config, 10).lr;
  assertClose([lr[9]], [0.002], "peak lr after warm-up", { absolute: 1e-15 });
});

Deno.test("teacher temperature and last-layer freeze per iteration follow build_schedulers", () => {
  const config = resolveConfig(DINO_DEFAULTS, {
    epochs: 4,
    warmupTeacherTemp: 0.04,
    teacherTemp: 0.07,
    warmupTeacherTempEpochs: 2,
    freezeLastLayer: 0.5,
    scheduleUnit: "iteration",
  });
  const stepsPerEpoch = 5;
  const schedules = dinoSchedules(config, stepsPerEpoch);
  // CosineScheduler(base 0.07, final 0.07, total = warmup = 10, start 0.04): linspace, then 0.07
  const official = (step: number) => step < 10 ? 0.04 + step * 0.03 / 9 : 0.07;
  for (const step of [0, 1, 4, 5, 9, 10, 19, 25]) {
    assertClose(
      [teacherTemperatureAt(config, schedules, stepsPerEpoch, step)],
      [official(step)],
      `step ${step}`,
      { absolute: 1e-15, relative: 1e-12 },
    );
  }
  // last_layer_lr_schedule[: freeze epochs * epoch length] = 0: 0.5 x 5 steps, rounded
  assertEquals(schedules.freezeLastLayerSteps, 3);
  // DINO: one value per epoch (linspace over the warm-up epochs), whole epochs frozen
  const dino = resolveConfig(config, { scheduleUnit: "epoch" });
  const perEpoch = dinoSchedules(dino, stepsPerEpoch);
  assertEquals(perEpoch.freezeLastLayerSteps, 5);
  assertEquals(
    [0, 4, 5, 9, 10].map((step) => teacherTemperatureAt(dino, perEpoch, stepsPerEpoch, step)),
    [0.04, 0.04, 0.07, 0.07, 0.07],
  );
});

Deno.test("drop path: linear over the blocks (DINO) or uniform (DINOv2)", () => {
  const linear = vitConfig({ depth: 4, dropPathRate: 0.3 });
  assertClose([0, 1, 2, 3].map((i) => blockDropPathRate(linear, i)), [0, 0.1, 0.2, 0.3], "linear", {
    absolute: 1e-15,
  });
  const uniform = vitConfig({ depth: 4, dropPathRate: 0.3, dropPathSchedule: "uniform" });
  assertEquals([0, 1, 2, 3].map((i) => blockDropPathRate(uniform, i)), [0.3, 0.3, 0.3, 0.3]);
});

Deno.test("recipe keys: DINO's by default, refused with one line when unknown", () => {
  for (const [key, value] of Object.entries(DINO_RECIPE)) {
    assertEquals(DINO_DEFAULTS[key as keyof typeof DINO_DEFAULTS], value, key);
  }
  assertThrows(
    () => resolveConfig(DINO_DEFAULTS, { clipMode: "global" }),
    ConfigError,
    'config key "clipMode" must be "parameter" or "submodule", got "global"',
  );
  assertThrows(() => resolveConfig(DINO_DEFAULTS, { layerwiseDecay: 1.5 }), ConfigError, "(0, 1]");
  assertThrows(
    () => resolveConfig(DINO_DEFAULTS, { patchEmbedLrMultiplier: -1 }),
    ConfigError,
    "patchEmbedLrMultiplier",
  );
});

Deno.test("preset dinov2: DINOv2's recipe over the data's base preset", () => {
  const config = presetConfig("dinov2", { data: "fashion-mnist" });
  for (const [key, value] of Object.entries(DINOV2_RECIPE)) {
    assertEquals(config[key as keyof typeof config], value, key);
  }
  assertEquals(
    [config.centering, config.ibotLossWeight, config.koleoLossWeight, config.registers],
    ["sinkhorn", 1, 0.1, 4],
  );
  assertEquals([config.layerScaleInit, config.normLastLayer, config.patchSize], [1e-5, false, 7]);
  // schedules kept as shares of the run: 20 epochs -> 2 warm-up, 6 of temperature warm-up
  assertEquals([config.epochs, config.warmupEpochs, config.warmupTeacherTempEpochs], [20, 2, 6]);
  const longer = presetConfig("dinov2", { data: "fashion-mnist", epochs: 100 });
  assertEquals([longer.warmupEpochs, longer.freezeLastLayer], [10, 1]);
  // flags still win over the preset
  assertEquals(presetConfig("dinov2", { data: "fashion-mnist", registers: 0 }).registers, 0);
  // other presets keep DINO's recipe keys
  assertEquals(presetConfig("mnist", { data: "fashion-mnist" }).clipMode, "parameter");
});
