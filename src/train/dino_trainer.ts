/**
 * The trainer of a DINO run: builds the student, teacher, losses, optimizer and augmenter from a
 * configuration, moves them through the resolution phases, and runs `dinoStep` (src/train/step.ts)
 * through a `StepRecorder`, which records the step once per shape and replays it afterwards.
 * @module
 */
import { MultiCropAugmenter } from "../data/multi_crop.ts";
import type { Batch } from "../data/loader.ts";
import { StepRecorder } from "../gpu/recorder.ts";
import { MlpMixer } from "../nn/mixer.ts";
import { VisionTransformer } from "../nn/vit.ts";
import type { AdamW } from "../optim/adamw.ts";
import { StepGuard } from "../optim/step_guard.ts";
import { Random } from "../tensor/random.ts";
import { keep, Tensor } from "../tensor/tensor.ts";
import type { DinoTrainConfig } from "./config.ts";
import { growMixerRun, phaseAt, type ResolutionPhase, resolutionPhases } from "./curriculum.ts";
import { DinoLoss } from "./dino_loss.ts";
import { IbotPatchLoss } from "./ibot.ts";
import { type Backbone, buildBackbone, copyWeights, DinoNetwork, ibotOutDim } from "./models.ts";
import { withWeightCasts } from "../nn/layers.ts";
import {
  dinoOptimizer,
  type DinoSchedules,
  dinoSchedules,
  teacherTemperatureAt,
} from "./schedules.ts";
import { dinoStep, type DinoStepInputs, type DinoStepShape, type StepResult } from "./step.ts";

/** Options of a trainer beyond its configuration. */
export interface DinoTrainerOptions {
  /**
   * A frozen teacher (distillation): used as is, never updated, never copied from the student.
   * Without it the teacher is an EMA of the student.
   */
  teacher?: DinoNetwork;
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
  /** AdamW over the student in the recipe's parameter groups (`studentParamGroups`). */
  optimizer: AdamW;
  /** The multi-crop augmenter (rebuilt at each resolution phase). */
  augmenter: MultiCropAugmenter;
  /** The iBOT patch loss, when iBOT is on. */
  readonly ibotLoss: IbotPatchLoss | undefined;
  /** The generator of the iBOT masks (its state goes into checkpoints). */
  readonly maskRandom: Random;
  /** Whether the teacher is frozen (distillation) rather than an EMA of the student. */
  readonly frozenTeacher: boolean;
  /**
   * Distillation's EMA of the student (`studentEma`; DINOv3's `model_ema`): follows the student on
   * the teacher momentum's schedule, and is what the run evaluates and saves as its model.
   */
  readonly studentEma: DinoNetwork | undefined;
  /**
   * DINOv3's Gram teacher: a frozen backbone taken from the EMA teacher at `gramStartStep` and
   * refreshed every `gramUpdateEvery` steps; undefined when the Gram loss is off.
   */
  readonly gramTeacher: Backbone | undefined;
  /** Skips a step whose gradients are not finite and counts it (`StepResult.skippedSteps`). */
  readonly guard: StepGuard = new StepGuard();
  /** The resolution phases (one without a curriculum). */
  readonly phases: ResolutionPhase[];
  /** The phase the networks and augmenter are in. */
  phase = 0;
  /** Schedules. */
  readonly schedules: DinoSchedules;
  /** Steps per epoch. */
  readonly stepsPerEpoch: number;
  /** Steps taken. */
  step = 0;
  /** Records `dinoStep` once per shape and replays it; its inputs: the batch and the momentum. */
  readonly #recorder = new StepRecorder({
    inputs: {
      images: (bytes: number) => keep(Tensor.empty([Math.ceil(bytes / 4)], "u32", "image batch")),
      momentum: (bytes: number) => keep(Tensor.empty([bytes / 4], "f32", "ema momentum")),
      temperatureScale: (bytes: number) =>
        keep(Tensor.empty([bytes / 4], "f32", "teacher temperature scale")),
    },
    // at precision f16, one f16 copy of each student weight serves every view group
    step: (inputs: DinoStepInputs, shape: DinoStepShape): StepResult =>
      withWeightCasts(() => dinoStep(this, inputs, shape)),
  });

  /** Builds everything for a run of `stepsPerEpoch` steps per epoch. */
  constructor(config: DinoTrainConfig, stepsPerEpoch: number, options: DinoTrainerOptions = {}) {
    this.config = config;
    this.stepsPerEpoch = stepsPerEpoch;
    this.student = new DinoNetwork(config, true);
    this.frozenTeacher = options.teacher !== undefined;
    this.teacher = options.teacher ?? new DinoNetwork(config, false);
    if (!this.frozenTeacher) copyWeights(this.teacher, this.student);
    this.teacher.eval();
    for (const parameter of this.teacher.parameters()) parameter.requiresGrad = false;
    if (this.frozenTeacher && config.studentEma) {
      this.studentEma = new DinoNetwork(config, false);
      copyWeights(this.studentEma, this.student);
      this.studentEma.eval();
      for (const parameter of this.studentEma.parameters()) parameter.requiresGrad = false;
    }
    const { outDim, studentTemp, centerMomentum, centering } = config;
    this.loss = new DinoLoss(outDim, studentTemp, centerMomentum, centering);
    this.ibotLoss = config.ibotLossWeight > 0
      ? new IbotPatchLoss(ibotOutDim(config), studentTemp, centerMomentum, centering)
      : undefined;
    this.maskRandom = new Random(config.seed ^ 0x1b07ab5);
    this.gramTeacher = config.gramLossWeight > 0 ? buildBackbone(config, false) : undefined;
    if (this.gramTeacher) {
      this.gramTeacher.eval();
      for (const parameter of this.gramTeacher.parameters()) parameter.requiresGrad = false;
    }
    this.schedules = dinoSchedules(config, stepsPerEpoch);
    this.optimizer = dinoOptimizer(this.student, config, this.schedules);
    this.augmenter = this.#buildAugmenter(config.globalSize, config.localSize);
    this.phases = resolutionPhases(config, config.epochs * stepsPerEpoch);
  }

  #buildAugmenter(globalSize: number, localSize: number): MultiCropAugmenter {
    const config = this.config;
    return new MultiCropAugmenter({
      globalSize,
      globalScale: config.globalScale,
      localSize,
      localScale: config.localScale,
      localCrops: config.localCrops,
      blurProbabilities: config.blurProbabilities,
      solarizeProbability: config.solarizeProbability,
      colorJitter: config.colorJitter,
      colorJitterProbability: config.colorJitterProbability,
      grayscaleProbability: config.grayscaleProbability,
    }, config.seed);
  }

  /**
   * The network the run evaluates and saves as its model: the EMA teacher; in distillation (a
   * frozen teacher) the student's EMA, or the student itself without one.
   */
  get evaluationNetwork(): { network: DinoNetwork; name: "teacher" | "student_ema" | "student" } {
    if (!this.frozenTeacher) return { network: this.teacher, name: "teacher" };
    if (this.studentEma) return { network: this.studentEma, name: "student_ema" };
    return { network: this.student, name: "student" };
  }

  /** The backbone to evaluate (`evaluationNetwork`'s). */
  get evaluationBackbone(): Backbone {
    return this.evaluationNetwork.network.backbone;
  }

  /** Side of the global crops in the current phase. */
  get globalSize(): number {
    return this.phases[this.phase].globalSize;
  }

  /** The epoch of the current step. */
  get epoch(): number {
    return Math.floor(this.step / this.stepsPerEpoch);
  }

  /**
   * Moves the networks and the step plan into the resolution phase of the current step (or
   * `target`: a checkpoint's phase), if it changed: a new augmenter for the phase's sizes
   * (continuing the random stream); for an MLP-Mixer token-mixing weights grown block-diagonally
   * with their AdamW state; in the high-resolution phase position embeddings resized once and a
   * fresh optimizer. Returns whether the phase changed. Call before `trainStep` (the run loop does).
   */
  async syncPhase(target: number = phaseAt(this.phases, this.step)): Promise<boolean> {
    if (target === this.phase) return false;
    if (target < this.phase) {
      throw new Error(
        `DinoTrainer: cannot go back from resolution phase ${this.phase} to ${target}`,
      );
    }
    this.dropCapturedSteps();
    for (let phase = this.phase + 1; phase <= target; phase++) await this.#enterPhase(phase);
    return true;
  }

  async #enterPhase(phase: number): Promise<void> {
    const { globalSize, localSize, highRes } = this.phases[phase];
    const state = this.augmenter.random.state;
    this.augmenter.dispose();
    this.augmenter = this.#buildAugmenter(globalSize, localSize);
    this.augmenter.random.state = state;
    const backbone = this.student.backbone;
    const grid = globalSize / this.config.patchSize;
    const rebuild = () => dinoOptimizer(this.student, this.config, this.schedules);
    if (backbone instanceof MlpMixer && grid !== backbone.tokenGrids.at(-1)) {
      this.optimizer = await growMixerRun(this, grid, rebuild);
    } else if (highRes && backbone instanceof VisionTransformer) {
      this.#resizePositions(grid);
      // the official high-resolution adaptation is a new run from the weights: a new AdamW
      this.optimizer.dispose();
      this.optimizer = rebuild();
    }
    this.phase = phase;
  }

  /**
   * The high-resolution phase's one interpolation of the learned position embeddings to a
   * `grid` x `grid` grid: the student's, the EMA teacher's, the student EMA's and the Gram
   * teacher's (a frozen distillation teacher keeps its own and interpolates on the fly).
   */
  #resizePositions(grid: number): void {
    const backbones = [
      this.student.backbone,
      ...(this.frozenTeacher ? [] : [this.teacher.backbone]),
      ...(this.studentEma ? [this.studentEma.backbone] : []),
      ...(this.gramTeacher ? [this.gramTeacher] : []),
    ];
    for (const backbone of backbones) {
      if (backbone instanceof VisionTransformer) backbone.resizePositionEmbedding(grid);
    }
  }

  /**
   * Runs one training step (`dinoStep`) on a batch of uint8 HWC images (1 or 3 channels).
   *
   * Steps are recorded once per shape and replayed (`StepRecorder`): the first step of a kind
   * (batch shape, resolution phase, augmentation kernels, per-epoch teacher temperature, last
   * layer frozen or not) runs the step's code; the second runs it again while it is recorded;
   * later ones replay the recording after uploading their inputs (the batch, the momentum, the
   * per-step teacher temperature's scale; the augmentation
   * and drop-path draws and AdamW's scalars are uploaded by their modules). A step whose recording
   * cannot be replayed (iBOT: its masks vary in size) runs the code every time; see
   * `replayFailure`. The result tensors of a replayed step share the recording's buffers: read
   * them before the next step and dispose them.
   */
  trainStep(batch: Batch): StepResult {
    const at = Math.min(this.step, this.schedules.lr.length - 1);
    this.optimizer.setSchedule(this.schedules.lr[at], this.schedules.weightDecay[at]);
    const [size, height, width, channels] = batch.shape;
    const phase = phaseAt(this.phases, this.step);
    if (phase !== this.phase) {
      throw new Error(
        `DinoTrainer: step ${this.step} belongs to resolution phase ${phase}, the trainer is in ` +
          `phase ${this.phase}; await trainer.syncPhase() before trainStep`,
      );
    }
    this.#refreshGramTeacher();
    // DINOv2's per-step temperature: a fixed reference in the recording, the ratio uploaded
    const temperature = teacherTemperatureAt(this.config, this.schedules, this.stepsPerEpoch, at);
    const perStep = this.config.scheduleUnit === "iteration";
    const shape: DinoStepShape = {
      batch: size,
      height,
      width,
      globalSize: this.globalSize,
      teacherTemperature: perStep ? this.config.teacherTemp : temperature,
      perStepTemperature: perStep,
      frozenLastLayer: this.step < this.schedules.freezeLastLayerSteps,
      phase,
      augmentKernels: this.augmenter.draw(size, height, width, batch.views),
      gramActive: this.gramTeacher !== undefined && this.step >= this.config.gramStartStep,
    };
    const result = this.#recorder.run(shape, {
      images: channels === 3 ? batch.images : grayToRgb(batch.images, channels),
      momentum: Float32Array.of(this.schedules.momentum[at]),
      temperatureScale: Float32Array.of(perStep ? this.config.teacherTemp / temperature : 1),
    });
    this.step++;
    return result;
  }

  /**
   * DINOv3's Gram teacher schedule (`gram.it_load_ema_teacher`, `rep_update`): the EMA teacher's
   * backbone is copied into the Gram teacher at `gramStartStep` and every `gramUpdateEvery` steps
   * after it. The copy is a GPU copy between steps, outside any recording.
   */
  #refreshGramTeacher(): void {
    if (!this.gramTeacher) return;
    const { gramStartStep, gramUpdateEvery } = this.config;
    const since = this.step - gramStartStep;
    const due = since === 0 || (gramUpdateEvery > 0 && since > 0 && since % gramUpdateEvery === 0);
    if (due) copyWeights(this.gramTeacher, this.teacher.backbone);
  }

  /** Whether steps are recorded and replayed (on by default; off runs the code every step). */
  get replay(): boolean {
    return this.#recorder.enabled;
  }

  set replay(on: boolean) {
    this.#recorder.enabled = on;
  }

  /** Steps replayed from a recording (see `trainStep`). */
  get replayedSteps(): number {
    return this.#recorder.replayed;
  }

  /** Why the latest recording could not be replayed, if one could not. */
  get replayFailure(): string | undefined {
    return this.#recorder.failure;
  }

  /** Forgets every recorded step (their buffers go back to the pool). */
  dropCapturedSteps(): void {
    this.#recorder.clear();
  }

  /** Releases every GPU resource of the run. */
  dispose(): void {
    this.#recorder.dispose();
    this.student.dispose();
    this.teacher.dispose();
    this.studentEma?.dispose();
    this.loss.dispose();
    this.ibotLoss?.dispose();
    this.gramTeacher?.dispose();
    this.optimizer.dispose();
    this.augmenter.dispose();
    this.guard.dispose();
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
