/**
 * DINO's precomputed schedules (learning rate, weight decay and teacher momentum per step, teacher
 * temperature per epoch) and its parameter groups (no weight decay on biases and norms).
 * @module
 */
import { AdamW } from "../optim/adamw.ts";
import { cosineSchedule } from "../optim/schedule.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { DinoTrainConfig } from "./config.ts";
import type { DinoNetwork } from "./models.ts";

/** The per-step schedules DINO precomputes. */
export interface DinoSchedules {
  /** Learning rate per step. */
  lr: Float64Array;
  /** Weight decay per step. */
  weightDecay: Float64Array;
  /** Teacher EMA momentum per step. */
  momentum: Float64Array;
  /** Teacher temperature per epoch. */
  teacherTemperature: Float64Array;
}

/** DINO's schedules for `stepsPerEpoch` steps per epoch. */
export function dinoSchedules(config: DinoTrainConfig, stepsPerEpoch: number): DinoSchedules {
  const totalSteps = config.epochs * stepsPerEpoch;
  // a fractional warm-up (0.3 epochs) rounds to whole steps
  const warmupSteps = Math.min(
    totalSteps,
    Math.max(0, Math.round(config.warmupEpochs * stepsPerEpoch)),
  );
  const teacherTemperature = new Float64Array(config.epochs);
  const warm = Math.min(config.warmupTeacherTempEpochs, config.epochs);
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    teacherTemperature[epoch] = epoch < warm
      ? (warm === 1 ? config.warmupTeacherTemp : config.warmupTeacherTemp +
        (config.teacherTemp - config.warmupTeacherTemp) * epoch / (warm - 1))
      : config.teacherTemp;
  }
  return {
    lr: cosineSchedule({
      base: config.lr * config.batchSize / 256,
      final: config.minLr,
      totalSteps,
      warmupSteps,
    }),
    weightDecay: cosineSchedule({
      base: config.weightDecay,
      final: config.weightDecayEnd,
      totalSteps,
    }),
    momentum: cosineSchedule({ base: config.momentumTeacher, final: 1, totalSteps }),
    teacherTemperature,
  };
}

/**
 * AdamW over the student's trainable parameters in DINO's two groups (`get_params_groups`):
 * group 0 regularised, group 1 (biases and 1-D parameters: norms) without weight decay.
 */
export function dinoOptimizer(
  student: DinoNetwork,
  config: DinoTrainConfig,
  schedules: DinoSchedules,
): AdamW {
  const regularised: Tensor[] = [];
  const plain: Tensor[] = [];
  for (const [name, parameter] of student.namedParameters()) {
    if (!parameter.requiresGrad) continue;
    if (name.endsWith(".bias") || parameter.rank === 1) plain.push(parameter);
    else regularised.push(parameter);
  }
  return new AdamW(
    [{ params: regularised }, { params: plain, weightDecay: 0 }],
    { lr: schedules.lr[0], weightDecay: config.weightDecay },
  );
}
