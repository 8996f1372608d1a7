/**
 * Resolves and checks a DINO training configuration: `resolveConfig` lays overrides over the
 * defaults (`presetConfig` over a preset first) and validates every key, so a bad value is refused with its name and the range it must lie in
 * before any training starts.
 * @module
 */
import {
  autoPreset,
  DINO_DEFAULTS,
  type DinoTrainConfig,
  generatedData,
  MNIST_RECIPE,
  type Preset,
  PRESETS,
  smallDataConfig,
} from "./config.ts";
import { dinov2Overrides, RECIPE_CHOICES } from "./recipe.ts";
import { ConfigError } from "./config_error.ts";
import { validateHighResPhase, validateResolutionSchedule } from "./validate_phases.ts";

export { ConfigError };

/** The keys that take one of a few words, and those words. */
const CHOICES: Record<string, readonly string[]> = {
  knnBeforeTraining: ["auto", "always", "never"],
  precision: ["f32", "f16"],
  centering: ["centering", "sinkhorn"],
};

/**
 * Merges `overrides` (from a JSON file or flags) onto `base`, refusing unknown keys (listing the
 * valid ones) and values of the wrong type.
 */
export function resolveConfig(
  base: DinoTrainConfig,
  ...overrides: Record<string, unknown>[]
): DinoTrainConfig {
  const result: Record<string, unknown> = { ...base };
  const valid = Object.keys(base);
  for (const override of overrides) {
    for (const [key, value] of Object.entries(override)) {
      if (value === undefined) continue;
      if (!(key in base)) {
        throw new ConfigError(
          `unknown config key "${key}"; valid keys: ${valid.join(", ")}`,
        );
      }
      const expected = base[key as keyof DinoTrainConfig];
      if (key === "resolutionSchedule") {
        const fine = Array.isArray(value) &&
          value.every((phase) =>
            Array.isArray(phase) && phase.length === 3 &&
            phase.every((item) => typeof item === "number" && Number.isFinite(item))
          );
        if (!fine) {
          throw new ConfigError(
            `config key "resolutionSchedule" must be a list of [startFraction, globalSize, ` +
              `localSize] triples, got ${JSON.stringify(value)}`,
          );
        }
        result[key] = value;
        continue;
      }
      const ok = Array.isArray(expected)
        ? Array.isArray(value) && value.length === expected.length &&
          value.every((item) => typeof item === "number" && Number.isFinite(item))
        : typeof value === typeof expected &&
          (typeof value !== "number" || Number.isFinite(value));
      if (!ok) {
        throw new ConfigError(
          `config key "${key}" must be ${
            Array.isArray(expected) ? `[${expected.length} numbers]` : `a ${typeof expected}`
          }, got ${JSON.stringify(value)}`,
        );
      }
      result[key] = value;
    }
  }
  const config = result as unknown as DinoTrainConfig;
  validateConfig(config);
  return config;
}

/** Refuses a configuration whose values cannot run (throws a ConfigError naming the key). */
export function validateConfig(config: DinoTrainConfig): void {
  const positive: (keyof DinoTrainConfig)[] = [
    "imageSize",
    "patchSize",
    "embedDim",
    "depth",
    "heads",
    "outDim",
    "epochs",
    "batchSize",
    "globalSize",
    "logEvery",
  ];
  for (const key of positive) {
    const value = config[key] as number;
    if (!Number.isInteger(value) || value <= 0) {
      throw new ConfigError(`config key "${key}" must be a whole number > 0, got ${value}`);
    }
  }
  if (config.arch !== "vit" && config.arch !== "mixer") {
    throw new ConfigError(`config key "arch" must be "vit" or "mixer", got "${config.arch}"`);
  }
  if (config.embedDim % config.heads !== 0) {
    throw new ConfigError(
      `embedDim ${config.embedDim} must be a multiple of heads ${config.heads}`,
    );
  }
  validateBackbone(config);
  validateRecipe(config);
  for (const [key, size] of [["globalSize", config.globalSize], ["localSize", config.localSize]]) {
    if (config.localCrops === 0 && key === "localSize") continue;
    if ((size as number) % config.patchSize !== 0) {
      throw new ConfigError(
        `${key} ${size} is not a multiple of patchSize ${config.patchSize}`,
      );
    }
  }
  for (const [key, allowed] of Object.entries(CHOICES)) {
    const value = (config as unknown as Record<string, unknown>)[key];
    if (!allowed.includes(value as string)) {
      const listed = allowed.map((choice) => `"${choice}"`);
      throw new ConfigError(
        `config key "${key}" must be ${listed.slice(0, -1).join(", ")} or ${listed.at(-1)}, ` +
          `got ${JSON.stringify(value)}`,
      );
    }
  }
  if (typeof config.trainSubset !== "string") {
    throw new ConfigError(
      `config key "trainSubset" must be a file name or "", got ${
        JSON.stringify(config.trainSubset)
      }`,
    );
  }
  for (
    const key of [
      "koleoLossWeight",
      "ibotLossWeight",
      "ibotOutDim",
      "warmupEpochs",
      "warmupTeacherTempEpochs",
      "freezeLastLayer",
      "weightDecay",
      "weightDecayEnd",
      "minLr",
      "dropPathRate",
      "clipGrad",
      "localCrops",
      "registers",
      "layerScaleInit",
      "gramLossWeight",
      "gramStartStep",
      "gramUpdateEvery",
    ] as const
  ) {
    if (!(config[key] >= 0)) {
      throw new ConfigError(`config key "${key}" must be >= 0, got ${config[key]}`);
    }
  }
  const [low, high] = config.ibotMaskRatio;
  if (!(low >= 0 && low <= high && high <= 1)) {
    throw new ConfigError(
      `config key "ibotMaskRatio" must be [low, high] with 0 <= low <= high <= 1, got [${low}, ${high}]`,
    );
  }
  if (!(config.ibotMaskProbability >= 0 && config.ibotMaskProbability <= 1)) {
    throw new ConfigError(
      `config key "ibotMaskProbability" must be in [0, 1], got ${config.ibotMaskProbability}`,
    );
  }
  if (config.ibotLossWeight > 0 && config.arch !== "vit") {
    throw new ConfigError(
      `iBOT (ibotLossWeight ${config.ibotLossWeight}) needs a ViT (mask token, patch tokens); ` +
        `arch is "${config.arch}"`,
    );
  }
  for (
    const key of [
      "colorJitterProbability",
      "grayscaleProbability",
      "solarizeProbability",
    ] as const
  ) {
    if (!(config[key] >= 0 && config[key] <= 1)) {
      throw new ConfigError(`config key "${key}" must be in [0, 1], got ${config[key]}`);
    }
  }
  const [brightness, contrast, saturation, hue] = config.colorJitter;
  if (!(brightness >= 0 && contrast >= 0 && saturation >= 0 && hue >= 0 && hue <= 0.5)) {
    throw new ConfigError(
      `config key "colorJitter" must be [brightness, contrast, saturation, hue] with strengths ` +
        `>= 0 and hue <= 0.5, got ${JSON.stringify(config.colorJitter)}`,
    );
  }
  validateResolutionSchedule(config);
  validateHighResPhase(config);
  if (config.arch === "mixer" && config.localCrops > 0 && config.localSize !== config.globalSize) {
    throw new ConfigError(
      `an MLP-Mixer has a fixed number of tokens: localSize (${config.localSize}) must equal ` +
        `globalSize (${config.globalSize}), or set localCrops to 0`,
    );
  }
}

/** The DINO / DINOv2 recipe keys (`RecipeKeys`). */
function validateRecipe(config: DinoTrainConfig): void {
  for (const [key, choices] of Object.entries(RECIPE_CHOICES)) {
    const value = config[key as keyof DinoTrainConfig];
    if (!choices.includes(value as string)) {
      throw new ConfigError(
        `config key "${key}" must be ${choices.map((c) => `"${c}"`).join(" or ")}, got "${value}"`,
      );
    }
  }
  if (!(config.layerwiseDecay > 0 && config.layerwiseDecay <= 1)) {
    throw new ConfigError(
      `config key "layerwiseDecay" must be in (0, 1], got ${config.layerwiseDecay}`,
    );
  }
  if (!(config.patchEmbedLrMultiplier >= 0)) {
    throw new ConfigError(
      `config key "patchEmbedLrMultiplier" must be >= 0, got ${config.patchEmbedLrMultiplier}`,
    );
  }
}

/** The ViT-only backbone keys: their values, and that a Mixer leaves them at their defaults. */
function validateBackbone(config: DinoTrainConfig): void {
  if (config.positionEmbedding !== "learned" && config.positionEmbedding !== "rope") {
    throw new ConfigError(
      `config key "positionEmbedding" must be "learned" or "rope", got "${config.positionEmbedding}"`,
    );
  }
  if (config.feedForward !== "mlp" && config.feedForward !== "swiglu") {
    throw new ConfigError(
      `config key "feedForward" must be "mlp" or "swiglu", got "${config.feedForward}"`,
    );
  }
  for (const key of ["registers", "gramStartStep", "gramUpdateEvery"] as const) {
    if (!Number.isInteger(config[key])) {
      throw new ConfigError(`config key "${key}" must be a whole number, got ${config[key]}`);
    }
  }
  const [shift, jitter, rescale] = config.ropeCoordinateAugmentation;
  if (!(shift >= 0 && (jitter === 0 || jitter >= 1) && (rescale === 0 || rescale >= 1))) {
    throw new ConfigError(
      `config key "ropeCoordinateAugmentation" must be [shift >= 0, jitter 0 or >= 1, rescale 0 ` +
        `or >= 1], got ${JSON.stringify(config.ropeCoordinateAugmentation)}`,
    );
  }
  const headSize = config.embedDim / config.heads;
  if (config.positionEmbedding === "rope" && headSize % 4 !== 0) {
    throw new ConfigError(
      `RoPE needs a head width that is a multiple of 4 (two axes, sine and cosine): embedDim ` +
        `${config.embedDim} / heads ${config.heads} = ${headSize}`,
    );
  }
  if (config.arch === "mixer") {
    const vitOnly = {
      positionEmbedding: config.positionEmbedding !== "learned",
      registers: config.registers > 0,
      layerScaleInit: config.layerScaleInit > 0,
      feedForward: config.feedForward !== "mlp",
      gramLossWeight: config.gramLossWeight > 0,
    };
    const set = Object.entries(vitOnly).filter(([, on]) => on).map(([key]) => key);
    if (set.length > 0) {
      throw new ConfigError(
        `${set.join(", ")} ${set.length === 1 ? "is" : "are"} for a ViT; arch is "mixer"`,
      );
    }
  }
}

/**
 * The configuration of a run: DINO_DEFAULTS, then `preset` ("auto": `autoPreset` of the data and
 * image size asked for; "dinov2": `dinov2Overrides` over that), then `overrides` (a configuration file's keys, flags). Without an
 * `imageSize` override the images are 28 px for MNIST-format data, 32 px for the generated sets and
 * DINO_DEFAULTS' size otherwise; the small-data preset's local crops follow the patch size asked
 * for (28 px with patch 7: 14 px locals). Throws a ConfigError for an unknown preset, key or value.
 */
export function presetConfig(
  preset: Preset,
  overrides: Record<string, unknown> = {},
): DinoTrainConfig {
  if (!PRESETS.includes(preset)) {
    throw new ConfigError(`preset must be one of ${PRESETS.join(", ")}, got "${preset}"`);
  }
  const data = String(overrides.data ?? DINO_DEFAULTS.data);
  const imageSize = typeof overrides.imageSize === "number"
    ? overrides.imageSize
    : data.includes("mnist")
    ? 28
    : generatedData(data)
    ? 32
    : DINO_DEFAULTS.imageSize;
  const chosen = preset === "auto" || preset === "dinov2" ? autoPreset(data, imageSize) : preset;
  const recipe = chosen === "mnist" ? MNIST_RECIPE : {};
  const patchSize = typeof overrides.patchSize === "number" && overrides.patchSize > 0
    ? overrides.patchSize
    : recipe.patchSize;
  const base = chosen === "dino" ? {} : smallDataConfig(imageSize, patchSize);
  const epochs = overrides.epochs ?? recipe.epochs ?? base.epochs ?? DINO_DEFAULTS.epochs;
  const dinov2 = preset === "dinov2" && typeof epochs === "number" ? dinov2Overrides(epochs) : {};
  return resolveConfig(DINO_DEFAULTS, base, recipe, dinov2, { imageSize }, overrides);
}
