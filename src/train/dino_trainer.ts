/**
 * One DINO training step, in main_dino.py's order: schedules -> multi-crop -> teacher on the
 * global crops (no grad) -> student on all crops -> loss and centre update -> backward ->
 * per-parameter clipping -> last layer frozen in the first epoch(s) -> AdamW -> EMA teacher.
 * No readback happens inside a step: the loss and monitors stay on the GPU until logged.
 * @module
 */
import { MultiCropAugmenter, uploadImageBatch } from "../data/augment.ts";
import type { Batch } from "../data/loader.ts";
import { AdamW } from "../optim/adamw.ts";
import { clipGradNormPerParameter } from "../optim/clip.ts";
import { emaUpdate } from "../optim/ema.ts";
import { cosineSchedule } from "../optim/schedule.ts";
import { backward, zeroGrad } from "../tensor/backward.ts";
import { noGrad } from "../tensor/tape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { DinoTrainConfig } from "./config.ts";
import { DinoLoss } from "./dino_loss.ts";
import { copyWeights, DinoNetwork } from "./models.ts";

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
  const warmupSteps = Math.min(totalSteps, config.warmupEpochs * stepsPerEpoch);
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

/** The monitors of one step, one-element tensors on the GPU (read them only when logging). */
export interface StepResult {
  /** The loss. */
  loss: Tensor;
  /** Mean teacher entropy. */
  teacherEntropy: Tensor;
  /** Mean KL(teacher || student). */
  klDivergence: Tensor;
  /** Squared norm of the centre. */
  centerNormSquared: Tensor;
}

/** The student, teacher, loss, optimizer and augmenter of a DINO run, and its step. */
export class DinoTrainer {
  /** The configuration. */
  readonly config: DinoTrainConfig;
  /** The student (trained by gradient). */
  readonly student: DinoNetwork;
  /** The teacher (EMA of the student; no gradient). */
  readonly teacher: DinoNetwork;
  /** The loss and its centre. */
  readonly loss: DinoLoss;
  /** AdamW over the student: group 0 regularised, group 1 (biases and norms) not. */
  readonly optimizer: AdamW;
  /** The multi-crop augmenter. */
  readonly augmenter: MultiCropAugmenter;
  /** Schedules. */
  readonly schedules: DinoSchedules;
  /** Steps per epoch. */
  readonly stepsPerEpoch: number;
  /** Steps taken. */
  step = 0;

  /** Builds everything for a run of `stepsPerEpoch` steps per epoch. */
  constructor(config: DinoTrainConfig, stepsPerEpoch: number) {
    this.config = config;
    this.stepsPerEpoch = stepsPerEpoch;
    this.student = new DinoNetwork(config, true);
    this.teacher = new DinoNetwork(config, false);
    copyWeights(this.teacher, this.student);
    for (const parameter of this.teacher.parameters()) parameter.requiresGrad = false;
    this.loss = new DinoLoss(config.outDim, config.studentTemp, config.centerMomentum);
    const regularised: Tensor[] = [];
    const plain: Tensor[] = [];
    for (const [name, parameter] of this.student.namedParameters()) {
      if (!parameter.requiresGrad) continue;
      // DINO's get_params_groups: no weight decay on biases and 1-D parameters (norms)
      if (name.endsWith(".bias") || parameter.rank === 1) plain.push(parameter);
      else regularised.push(parameter);
    }
    this.schedules = dinoSchedules(config, stepsPerEpoch);
    this.optimizer = new AdamW(
      [{ params: regularised }, { params: plain, weightDecay: 0 }],
      { lr: this.schedules.lr[0], weightDecay: config.weightDecay },
    );
    this.augmenter = new MultiCropAugmenter({
      globalSize: config.globalSize,
      globalScale: config.globalScale,
      localSize: config.localSize,
      localScale: config.localScale,
      localCrops: config.localCrops,
    }, config.seed);
  }

  /** The epoch of the current step. */
  get epoch(): number {
    return Math.floor(this.step / this.stepsPerEpoch);
  }

  /** Runs one training step on a batch of uint8 HWC images (1 or 3 channels). */
  trainStep(batch: Batch): StepResult {
    const config = this.config;
    const at = Math.min(this.step, this.schedules.lr.length - 1);
    this.optimizer.setGroupLr(0, this.schedules.lr[at]);
    this.optimizer.setGroupLr(1, this.schedules.lr[at]);
    this.optimizer.setGroupWeightDecay(0, this.schedules.weightDecay[at]);
    const epoch = Math.min(this.epoch, config.epochs - 1);
    const [size, height, width, channels] = batch.shape;
    const rgb = channels === 3 ? batch.images : grayToRgb(batch.images, channels);
    const uploaded = uploadImageBatch(rgb, size, height, width);
    const crops = this.augmenter.augment(uploaded, size, height, width);
    uploaded.dispose();

    const teacherLogits = noGrad(() => this.teacher.forward([crops.globals]));
    const groups = crops.locals.length > 0 ? [crops.globals, crops.locals] : [crops.globals];
    const studentLogits = this.student.forward(groups);
    const result = this.loss.forward(
      studentLogits,
      teacherLogits,
      this.schedules.teacherTemperature[epoch],
    );
    for (const crop of [...crops.globals, ...crops.locals]) crop.dispose();
    teacherLogits.dispose();
    studentLogits.dispose();

    backward(result.loss);
    const parameters = this.optimizer.parameters;
    if (config.clipGrad > 0) clipGradNormPerParameter(parameters, config.clipGrad).dispose();
    if (epoch < config.freezeLastLayer) {
      zeroGrad(this.student.head.lastLayerParameters()); // DINO: cancel_gradients_last_layer
    }
    this.optimizer.step();
    zeroGrad(parameters);
    noGrad(() =>
      emaUpdate(this.teacher.parameters(), this.student.parameters(), this.schedules.momentum[at])
    );
    this.step++;
    return { ...result, centerNormSquared: this.loss.centerNorm() };
  }

  /** Releases every GPU resource of the run. */
  dispose(): void {
    this.student.dispose();
    this.teacher.dispose();
    this.loss.dispose();
    this.optimizer.dispose();
    this.augmenter.dispose();
  }
}

/** Repeats single-channel pixels into RGB (Fashion-MNIST and other gray sets). */
export function grayToRgb(pixels: Uint8Array, channels: number): Uint8Array {
  if (channels !== 1) {
    throw new RangeError(`grayToRgb: expected 1 channel, got ${channels}`);
  }
  const rgb = new Uint8Array(pixels.length * 3);
  for (let i = 0; i < pixels.length; i++) {
    rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = pixels[i];
  }
  return rgb;
}
