/**
 * DINO training: configuration and presets, the run (`runDinoTraining`: loop, metrics, k-NN,
 * checkpoints, resume), the step in paper order (`dinoStep`) and its trainer, the losses (DINO,
 * iBOT, KoLeo, Sinkhorn-Knopp), networks and distillation. Plumbing (curriculum growth, metrics
 * files, the run loop's parts) stays internal.
 *
 * @example
 * ```ts
 * import { initGpu, loadDataSpec, presetConfig, runDinoTraining } from "@dinogpu/dinogpu";
 * await initGpu();
 * // the small-data preset at 32 px, one epoch of the generated textures
 * const config = presetConfig("auto", { data: "textures", epochs: 1, out: "runs/library" });
 * const data = await loadDataSpec("textures:640", { syntheticSize: config.imageSize });
 * const result = await runDinoTraining({ config, train: data.train, test: data.test });
 * console.log(result.knnBefore, result.knnAfter);
 * ```
 * @module
 */
export {
  autoPreset,
  DINO_DEFAULTS,
  type DinoTrainConfig,
  MNIST_RECIPE,
  type Preset,
  PRESETS,
  smallDataConfig,
} from "./config.ts";
export { ConfigError, presetConfig, resolveConfig } from "./validate.ts";
export {
  OutputWriteError,
  runDinoTraining,
  TrainingDivergedError,
  type TrainProgress,
  type TrainRunOptions,
  type TrainRunResult,
} from "./run.ts";
export {
  type CheckpointInfo,
  latestCheckpoint,
  loadCheckpoint,
  readCheckpointInfo,
  type SamplerState,
  saveCheckpoint,
} from "./checkpoint.ts";
export { DENO_FILE_SYSTEM, type RunFileSystem } from "./run_folder.ts";
export { DinoTrainer, type DinoTrainerOptions } from "./dino_trainer.ts";
export {
  dinoStep,
  type DinoStepInputs,
  type DinoStepParts,
  type DinoStepShape,
  type StepResult,
} from "./step.ts";
export { type DinoSchedules, dinoSchedules, teacherTemperatureAt } from "./schedules.ts";
export {
  CenteredLoss,
  type Centering,
  type TeacherTarget,
  type TeacherTemperature,
} from "./centering.ts";
export {
  DINO_RECIPE,
  DINOV2_RECIPE,
  dinov2Overrides,
  type RecipeKeys,
  scaledLr,
} from "./recipe.ts";
export {
  type ParameterMultipliers,
  parameterMultipliers,
  type ParamGroupConfig,
  studentParamGroups,
} from "./param_groups.ts";
export { type MetricsLine } from "./metrics.ts";
export { DinoLoss, type DinoLossOutput } from "./dino_loss.ts";
export { IbotPatchLoss } from "./ibot.ts";
export { koleoLoss } from "./koleo.ts";
export { rowEntropy, sinkhornKnopp } from "./sinkhorn.ts";
export { BlockMaskGenerator, type MaskBatch, type MaskingConfig } from "./masking.ts";
export { type Backbone, buildBackbone, DinoNetwork, type DinoNetworkParts } from "./models.ts";
export { type DistillTeacher, type DistillTeacherOptions, loadDistillTeacher } from "./distill.ts";
/** Matmul tuning for a run's step on this adapter. */
export { type TrainingTuneOptions, tuneTrainingMatmuls } from "./tune.ts";
export { type ResolutionPhase, resolutionPhases } from "./curriculum.ts";
