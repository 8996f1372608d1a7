/**
 * DINO's precomputed schedules (learning rate, weight decay and teacher momentum per step, teacher
 * temperature per epoch or, as DINOv2, per step) and the optimizer over the recipe's parameter
 * groups (src/train/param_groups.ts).
 * @module
 */
import { AdamW } from "../optim/adamw.ts";
import { cosineSchedule } from "../optim/schedule.ts";
import type { DinoTrainConfig } from "./config.ts";
import type { DinoNetwork } from "./models.ts";
import { studentParamGroups } from "./param_groups.ts";
import { scaledLr } from "./recipe.ts";

/** The per-step schedules DINO precomputes. */
export interface DinoSchedules {
  /** Learning rate per step. */
  lr: Float64Array;
  /** Weight decay per step. */
  weightDecay: Float64Array;
  /** Teacher EMA momentum per step. */
  momentum: Float64Array;
  /** Teacher temperature per epoch (`scheduleUnit` "epoch"). */
  teacherTemperature: Float64Array;
  /**
   * Teacher temperature per step over its warm-up (`scheduleUnit` "iteration"; DINOv2's
   * `teacher_temp_schedule`: numpy's linspace from warmupTeacherTemp to teacherTemp over
   * warmupTeacherTempEpochs x steps per epoch, teacherTemp after); empty in "epoch" mode.
   */
  teacherTemperatureSteps: Float64Array;
  /** The last step (exclusive) at which the head's last layer is frozen. */
  freezeLastLayerSteps: number;
}

/** The teacher temperature of `step` under `config.scheduleUnit`. */
export function teacherTemperatureAt(
  config: DinoTrainConfig,
  schedules: DinoSchedules,
  stepsPerEpoch: number,
  step: number,
): number {
  if (config.scheduleUnit === "iteration") {
    const warm = schedules.teacherTemperatureSteps;
    return step < warm.length ? warm[Math.max(0, step)] : config.teacherTemp;
  }
  const epoch = Math.min(Math.floor(step / stepsPerEpoch), config.epochs - 1);
  return schedules.teacherTemperature[Math.max(0, epoch)];
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
  const warmSteps = config.scheduleUnit === "iteration"
    ? Math.round(config.warmupTeacherTempEpochs * stepsPerEpoch)
    : 0;
  const teacherTemperatureSteps = cosineSchedule({
    base: config.teacherTemp,
    final: config.teacherTemp,
    totalSteps: warmSteps,
    warmupSteps: warmSteps,
    warmupStart: config.warmupTeacherTemp,
  });
  // DINO freezes whole epochs; DINOv2 zeroes the last layer's lr for that many iterations
  const freezeLastLayerSteps = config.scheduleUnit === "iteration"
    ? Math.round(config.freezeLastLayer * stepsPerEpoch)
    : Math.ceil(config.freezeLastLayer) * stepsPerEpoch;
  const phase = config.highResSize > 0 ? config.highResSteps : 0;
  const peakLr = scaledLr(config.lr, config.batchSize, config.lrScaling);
  return {
    teacherTemperatureSteps,
    freezeLastLayerSteps,
    lr: concatenate(
      cosineSchedule({ base: peakLr, final: config.minLr, totalSteps, warmupSteps }),
      highResLrSchedule(peakLr * config.highResLrFraction, phase),
    ),
    weightDecay: concatenate(
      cosineSchedule({ base: config.weightDecay, final: config.weightDecayEnd, totalSteps }),
      new Float64Array(phase).fill(config.weightDecayEnd),
    ),
    momentum: concatenate(
      cosineSchedule({ base: config.momentumTeacher, final: 1, totalSteps }),
      new Float64Array(phase).fill(config.highResMomentum),
    ),
    teacherTemperature,
  };
}

/**
 * The learning rate of the high-resolution phase's `steps` steps, as DINOv3's
 * `high_res_adapt` config schedules it (`linear_warmup_cosine_decay` with start = peak = 0,
 * end = `target`, cosine over the first 10 of 30 epochs): a half cosine rising from 0 to `target`
 * over the first third of the phase (numpy's `linspace(0, pi, n)`, both ends included), then
 * `target` to the end.
 */
export function highResLrSchedule(target: number, steps: number): Float64Array {
  const values = new Float64Array(steps).fill(target);
  const rise = Math.round(steps / 3);
  for (let i = 0; i < rise; i++) {
    const angle = rise === 1 ? 0 : (Math.PI * i) / (rise - 1);
    values[i] = (target * (1 - Math.cos(angle))) / 2;
  }
  return values;
}

function concatenate(first: Float64Array, second: Float64Array): Float64Array {
  const joined = new Float64Array(first.length + second.length);
  joined.set(first);
  joined.set(second, first.length);
  return joined;
}

/**
 * The share of an EMA's starting weights still in it after following `momentum[from..to)`: the
 * product of the momenta (each step keeps `m` of the average). A share near 1 means the average
 * has barely moved from where it started.
 */
export function startingWeightShare(momentum: Float64Array, from: number, to: number): number {
  let share = 1;
  for (let step = Math.max(0, from); step < Math.min(to, momentum.length); step++) {
    share *= momentum[step];
  }
  return share;
}

/**
 * AdamW over the student's trainable parameters in the recipe's groups (`studentParamGroups`):
 * with DINO's keys its two groups (`get_params_groups`), regularised then biases and norms without
 * weight decay; with layer-wise decay or a patch-embedding multiplier, DINOv2's groups of equal
 * learning-rate multipliers. Apply a step's schedule with `AdamW.setSchedule`.
 */
export function dinoOptimizer(
  student: DinoNetwork,
  config: DinoTrainConfig,
  schedules: DinoSchedules,
): AdamW {
  const optimizer = new AdamW(studentParamGroups(student, config), {
    lr: schedules.lr[0],
    weightDecay: config.weightDecay,
  });
  optimizer.setSchedule(schedules.lr[0], schedules.weightDecay[0] ?? config.weightDecay);
  return optimizer;
}
