/**
 * The checks of a configuration's resolution phases: the curriculum of global crop sizes
 * (`validateResolutionSchedule`) and the high-resolution phase after the epochs
 * (`validateHighResPhase`). Called by `validateConfig` (src/train/validate.ts).
 * @module
 */
import type { DinoTrainConfig } from "./config.ts";
import { ConfigError } from "./config_error.ts";

/**
 * Refuses a resolution curriculum that cannot run, before training starts: sizes that are not
 * multiples of the patch size, fractions out of order or outside (0, 1), and for an MLP-Mixer
 * grids that do not grow by a whole factor per side (its token-mixing weights grow
 * block-diagonally) or local crops of another size than the global ones.
 */
export function validateResolutionSchedule(config: DinoTrainConfig): void {
  let previous = 0;
  let previousGlobal = config.globalSize;
  for (const [fraction, globalSize, localSize] of config.resolutionSchedule) {
    if (!(fraction > previous && fraction < 1)) {
      throw new ConfigError(
        `resolutionSchedule: start fractions must rise within (0, 1); got ${fraction} after ${previous}`,
      );
    }
    previous = fraction;
    for (const [what, size] of [["global size", globalSize], ["local size", localSize]] as const) {
      if (what === "local size" && config.localCrops === 0) continue;
      if (!Number.isInteger(size) || size <= 0 || size % config.patchSize !== 0) {
        throw new ConfigError(
          `resolutionSchedule: ${what} ${size} (phase starting at ${fraction}) is not a ` +
            `multiple of patchSize ${config.patchSize}`,
        );
      }
    }
    if (config.arch === "mixer") {
      const ratio = globalSize / previousGlobal;
      if (!Number.isInteger(ratio) || ratio < 1) {
        throw new ConfigError(
          `resolutionSchedule: an MLP-Mixer grows its token-mixing weights block-diagonally, ` +
            `so each global size must be a whole multiple of the one before: ${globalSize} ` +
            `after ${previousGlobal}`,
        );
      }
      if (config.localCrops > 0 && localSize !== globalSize) {
        throw new ConfigError(
          `resolutionSchedule: an MLP-Mixer has a fixed number of tokens: local size ` +
            `${localSize} must equal global size ${globalSize}, or set localCrops to 0`,
        );
      }
    }
    previousGlobal = globalSize;
  }
}

/**
 * Refuses a high-resolution phase that cannot run: a size or local size that is not a multiple of
 * the patch size, a phase without steps, a learning-rate fraction or momentum outside [0, 1], and
 * for an MLP-Mixer a size that is not a whole multiple of the last one (its token mixing grows).
 */
export function validateHighResPhase(config: DinoTrainConfig): void {
  const { highResSize, highResSteps, highResLocalSize, patchSize } = config;
  if (highResSize === 0) return;
  if (!Number.isInteger(highResSize) || highResSize < 0 || highResSize % patchSize !== 0) {
    throw new ConfigError(
      `highResSize ${highResSize} is not a multiple of patchSize ${patchSize} (0: no phase)`,
    );
  }
  if (!Number.isInteger(highResSteps) || highResSteps <= 0) {
    throw new ConfigError(`highResSteps must be a whole number > 0, got ${highResSteps}`);
  }
  if (
    config.localCrops > 0 && highResLocalSize !== 0 &&
    (!Number.isInteger(highResLocalSize) || highResLocalSize % patchSize !== 0)
  ) {
    throw new ConfigError(
      `highResLocalSize ${highResLocalSize} is not a multiple of patchSize ${patchSize} (0: scaled)`,
    );
  }
  for (const key of ["highResLrFraction", "highResMomentum"] as const) {
    if (!(config[key] >= 0 && config[key] <= 1)) {
      throw new ConfigError(`config key "${key}" must be in [0, 1], got ${config[key]}`);
    }
  }
  const before = config.resolutionSchedule.at(-1)?.[1] ?? config.globalSize;
  if (config.arch === "mixer") {
    const ratio = highResSize / before;
    if (!Number.isInteger(ratio) || ratio < 1) {
      throw new ConfigError(
        `highResSize: an MLP-Mixer grows its token-mixing weights block-diagonally, so the ` +
          `high-resolution size must be a whole multiple of ${before}, got ${highResSize}`,
      );
    }
    if (config.localCrops > 0) {
      throw new ConfigError(
        "highResSize: an MLP-Mixer has a fixed number of tokens; set localCrops to 0 for a " +
          "high-resolution phase",
      );
    }
  }
}
