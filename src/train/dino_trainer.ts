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
import type { CapturedCommands } from "../gpu/capture.ts";
import { gpu } from "../gpu/device.ts";
import { backward, zeroGrad } from "../tensor/backward.ts";
import { Mlp } from "../nn/layers.ts";
import { MlpMixer } from "../nn/mixer.ts";
import { add, scale } from "../ops/elementwise/forward.ts";
import { slice } from "../ops/shape/forward.ts";
import { Random } from "../tensor/random.ts";
import { noGrad } from "../tensor/tape.ts";
import { readAll, type Tensor, tensor } from "../tensor/tensor.ts";
import type { DinoTrainConfig } from "./config.ts";
import { blockTokenOrder } from "../nn/mixer.ts";
import {
  growTokenMixing,
  isTokenMixing,
  phaseAt,
  type ResolutionPhase,
  resolutionPhases,
} from "./curriculum.ts";
import { DinoLoss } from "./dino_loss.ts";
import { IbotPatchLoss } from "./ibot.ts";
import { koleoLoss } from "./koleo.ts";
import { drawMaskBatch } from "./masking.ts";
import { type Backbone, copyWeights, DinoNetwork, ibotOutDim } from "./models.ts";

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
  /** The iBOT patch loss (unweighted), when iBOT is on and the step had masked patches. */
  ibotLoss?: Tensor;
  /** The KoLeo loss (unweighted, summed over the two global views), when KoLeo is on. */
  koleoLoss?: Tensor;
}

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
  /** AdamW over the student: group 0 regularised, group 1 (biases and norms) not. */
  optimizer: AdamW;
  /** The multi-crop augmenter (rebuilt at each resolution phase). */
  augmenter: MultiCropAugmenter;
  /** The iBOT patch loss, when iBOT is on. */
  readonly ibotLoss: IbotPatchLoss | undefined;
  /** The generator of the iBOT masks (its state goes into checkpoints). */
  readonly maskRandom: Random;
  /** Whether the teacher is frozen (distillation) rather than an EMA of the student. */
  readonly frozenTeacher: boolean;
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
    this.loss = new DinoLoss(
      config.outDim,
      config.studentTemp,
      config.centerMomentum,
      config.centering,
    );
    this.ibotLoss = config.ibotLossWeight > 0
      ? new IbotPatchLoss(
        ibotOutDim(config),
        config.studentTemp,
        config.centerMomentum,
        config.centering,
      )
      : undefined;
    this.maskRandom = new Random(config.seed ^ 0x1b07ab5);
    this.schedules = dinoSchedules(config, stepsPerEpoch);
    this.optimizer = this.#buildOptimizer();
    this.augmenter = this.#buildAugmenter(config.globalSize, config.localSize);
    this.phases = resolutionPhases(config, config.epochs * stepsPerEpoch);
  }

  #buildOptimizer(): AdamW {
    const regularised: Tensor[] = [];
    const plain: Tensor[] = [];
    for (const [name, parameter] of this.student.namedParameters()) {
      if (!parameter.requiresGrad) continue;
      // DINO's get_params_groups: no weight decay on biases and 1-D parameters (norms)
      if (name.endsWith(".bias") || parameter.rank === 1) plain.push(parameter);
      else regularised.push(parameter);
    }
    return new AdamW(
      [{ params: regularised }, { params: plain, weightDecay: 0 }],
      { lr: this.schedules.lr[0], weightDecay: this.config.weightDecay },
    );
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

  /** The backbone to evaluate: the teacher's (EMA), or the student's when the teacher is frozen. */
  get evaluationBackbone(): Backbone {
    return this.frozenTeacher ? this.student.backbone : this.teacher.backbone;
  }

  /** Side of the global crops in the current phase. */
  get globalSize(): number {
    return this.phases[this.phase].globalSize;
  }

  /**
   * Moves the networks and the step plan into the resolution phase of the current step, if it
   * changed: a new augmenter for the phase's sizes (continuing the random stream), and for an
   * MLP-Mixer token-mixing weights grown block-diagonally with their AdamW state. Returns whether
   * the phase changed. Call before `trainStep` (the run loop does).
   */
  async syncPhase(): Promise<boolean> {
    const target = phaseAt(this.phases, this.step);
    if (target === this.phase) return false;
    this.dropCapturedSteps();
    for (let phase = this.phase + 1; phase <= target; phase++) await this.#enterPhase(phase);
    return true;
  }

  async #enterPhase(phase: number): Promise<void> {
    const { globalSize, localSize } = this.phases[phase];
    const state = this.augmenter.random.state;
    this.augmenter.dispose();
    this.augmenter = this.#buildAugmenter(globalSize, localSize);
    this.augmenter.random.state = state;
    const backbone = this.student.backbone;
    if (backbone instanceof MlpMixer) {
      const grid = globalSize / this.config.patchSize;
      if (grid !== backbone.tokenGrids.at(-1)) await this.#growMixers(grid);
    }
    this.phase = phase;
  }

  async #growMixers(grid: number): Promise<void> {
    // names in the optimizer's order (its groups: regularised first, then biases and norms)
    const nameOf = new Map(this.student.namedParameters().map(([name, value]) => [value, name]));
    const names = this.optimizer.parameters.map((value) => nameOf.get(value) ?? "");
    const old = this.optimizer.state();
    const oldGrid = (this.student.backbone as MlpMixer).tokenGrids.at(-1)!;
    const k = (grid / oldGrid) ** 2;
    const grownState = new Map<number, [Tensor, Tensor]>();
    for (let i = 0; i < names.length; i++) {
      if (!isTokenMixing(names[i])) continue;
      const [m, v] = await readAll([old.expAvg[i], old.expAvgSq[i]]);
      const grow = (values: ArrayLike<number>) => {
        const grown = growTokenMixing(names[i], old.expAvg[i].shape, values, k);
        return tensor(grown.values, grown.shape);
      };
      grownState.set(i, [grow(m), grow(v)]);
    }
    await growMixer(this.student.backbone as MlpMixer, grid);
    if (!this.frozenTeacher && this.teacher.backbone instanceof MlpMixer) {
      await growMixer(this.teacher.backbone, grid);
      for (const parameter of this.teacher.parameters()) parameter.requiresGrad = false;
    }
    this.optimizer.dispose();
    this.optimizer = this.#buildOptimizer();
    const expAvg = old.expAvg.map((value, i) => grownState.get(i)?.[0] ?? value);
    const expAvgSq = old.expAvgSq.map((value, i) => grownState.get(i)?.[1] ?? value);
    await this.optimizer.loadState({ steps: old.steps, expAvg, expAvgSq });
    for (const value of new Set([...old.expAvg, ...old.expAvgSq, ...expAvg, ...expAvgSq])) {
      value.dispose();
    }
    old.steps.dispose();
  }

  /** The epoch of the current step. */
  get epoch(): number {
    return Math.floor(this.step / this.stepsPerEpoch);
  }

  /**
   * Runs one training step on a batch of uint8 HWC images (1 or 3 channels).
   *
   * Steps are recorded once per shape and replayed: the first step of a kind (batch shape,
   * resolution phase, augmentation kernels, teacher temperature, last layer frozen or not) runs
   * the model code; the second runs it again while the runtime captures every command
   * (`Gpu.beginCapture`); later ones replay the capture, re-uploading only their inputs (the
   * batch, the augmentation and drop-path draws, the schedule values). A step whose capture
   * cannot be replayed (iBOT: its masks vary in size) runs the code every time; see
   * `replayFailure`. The result tensors of a replayed step share the capture's buffers: read
   * them before the next step and dispose them.
   */
  trainStep(batch: Batch): StepResult {
    const config = this.config;
    const at = Math.min(this.step, this.schedules.lr.length - 1);
    this.optimizer.setGroupLr(0, this.schedules.lr[at]);
    this.optimizer.setGroupLr(1, this.schedules.lr[at]);
    this.optimizer.setGroupWeightDecay(0, this.schedules.weightDecay[at]);
    this.#momentum = this.schedules.momentum[at];
    const epoch = Math.min(this.epoch, config.epochs - 1);
    const [size, height, width, channels] = batch.shape;
    this.#pixels = channels === 3 ? batch.images : grayToRgb(batch.images, channels);
    const phase = phaseAt(this.phases, this.step);
    if (phase !== this.phase) {
      throw new Error(
        `DinoTrainer: step ${this.step} belongs to resolution phase ${phase}, the trainer is in ` +
          `phase ${this.phase}; await trainer.syncPhase() before trainStep`,
      );
    }
    const augmentKey = this.augmenter.draw(size, height, width);
    const temperature = this.schedules.teacherTemperature[epoch];
    const frozenLastLayer = epoch < config.freezeLastLayer;
    const key = [size, height, width, phase, augmentKey, temperature, frozenLastLayer].join("|");
    const runtime = gpu();
    const plan = this.replay ? this.#plans.get(key) : undefined;
    if (plan && runtime.canReplay(plan.commands)) {
      runtime.replay(plan.commands);
      this.replayedSteps++;
      this.step++;
      return viewsOf(plan.results);
    }
    if (plan) this.#dropPlan(key); // its uniform buffers are gone: capture again
    const capture = this.replay && !this.#plans.has(key) && this.#seen.has(key) &&
      !this.#unreplayable.has(key);
    if (capture) runtime.beginCapture();
    let result: StepResult;
    try {
      result = this.#runStep(size, height, width, temperature, frozenLastLayer);
    } catch (error) {
      if (capture) runtime.releaseCaptured(runtime.endCapture());
      throw error;
    }
    this.#seen.add(key);
    if (!capture) return result;
    const commands = runtime.endCapture();
    if (commands.failure) {
      runtime.releaseCaptured(commands);
      this.#unreplayable.add(key);
      this.replayFailure = commands.failure;
      return result;
    }
    // the capture keeps the results' buffers; the caller gets views of them
    this.#plans.set(key, { commands, results: result });
    return viewsOf(result);
  }

  /** Steps replayed from a capture (see `trainStep`). */
  replayedSteps = 0;
  /** Why the latest capture could not be replayed, if one could not. */
  replayFailure: string | undefined;
  /** Whether steps are captured and replayed (on by default; off runs the code every step). */
  replay = true;
  #plans = new Map<string, { commands: CapturedCommands; results: StepResult }>();
  #seen = new Set<string>();
  #unreplayable = new Set<string>();
  #pixels: Uint8Array = new Uint8Array(0);
  #momentum = 0;

  #dropPlan(key: string): void {
    const plan = this.#plans.get(key);
    if (!plan) return;
    this.#plans.delete(key);
    gpu().releaseCaptured(plan.commands);
    for (const value of Object.values(plan.results)) value.dispose();
  }

  /** Forgets every captured step (their buffers go back to the pool). */
  dropCapturedSteps(): void {
    for (const key of [...this.#plans.keys()]) this.#dropPlan(key);
    this.#seen.clear();
    this.#unreplayable.clear();
  }

  #runStep(
    size: number,
    height: number,
    width: number,
    temperature: number,
    frozenLastLayer: boolean,
  ): StepResult {
    const config = this.config;
    const uploaded = uploadImageBatch(this.#pixels, size, height, width, () => this.#pixels);
    const crops = this.augmenter.augment(uploaded, size, height, width);
    uploaded.dispose();
    const groups = crops.locals.length > 0 ? [crops.globals, crops.locals] : [crops.globals];
    let result: StepResult | Omit<StepResult, "centerNormSquared">;
    if (!this.ibotLoss && config.koleoLossWeight === 0) {
      // plain DINO
      const teacherLogits = noGrad(() => this.teacher.forward([crops.globals]));
      const studentLogits = this.student.forward(groups);
      result = this.loss.forward(studentLogits, teacherLogits, temperature);
      teacherLogits.dispose();
      studentLogits.dispose();
    } else {
      result = this.#dinoV2Losses(crops.globals, groups, size, temperature);
    }
    for (const crop of [...crops.globals, ...crops.locals]) crop.dispose();

    backward(result.loss);
    const parameters = this.optimizer.parameters;
    if (config.clipGrad > 0) clipGradNormPerParameter(parameters, config.clipGrad).dispose();
    if (frozenLastLayer) {
      zeroGrad(this.student.head.lastLayerParameters()); // DINO: cancel_gradients_last_layer
    }
    this.optimizer.step();
    zeroGrad(parameters);
    if (!this.frozenTeacher) {
      // the momentum is read when uploaded: a replayed step uploads its own
      noGrad(() =>
        emaUpdate(this.teacher.parameters(), this.student.parameters(), () => this.#momentum)
      );
    }
    this.step++;
    return { ...result, centerNormSquared: this.loss.centerNorm() };
  }

  /** DINO + iBOT (masked patches) + KoLeo, as weighted in the configuration. */
  #dinoV2Losses(
    globals: Tensor[],
    groups: Tensor[][],
    batch: number,
    temperature: number,
  ): Omit<StepResult, "centerNormSquared"> {
    const config = this.config;
    const crops = globals.length * batch;
    let rows: Tensor | undefined;
    let weights: Tensor | undefined;
    if (this.ibotLoss) {
      const grid = this.globalSize / config.patchSize;
      const masks = drawMaskBatch(crops, {
        gridHeight: grid,
        gridWidth: grid,
        ratio: config.ibotMaskRatio,
        probability: config.ibotMaskProbability,
      }, this.maskRandom);
      if (masks.indices.length > 0) {
        rows = tensor(masks.indices, [masks.indices.length], "i32");
        weights = tensor(masks.weights, [masks.weights.length]);
      }
    }
    const teacher = noGrad(() => this.teacher.forwardParts([globals], rows, false));
    teacher.firstFeatures.dispose();
    const student = this.student.forwardParts(groups, rows, true);
    const dino = this.loss.forward(student.logits, teacher.logits, temperature);
    let total = dino.loss;
    const accumulate = (term: Tensor, weight: number) => {
      const weighted = scale(term, weight);
      const next = add(total, weighted);
      weighted.dispose();
      total.dispose();
      total = next;
    };
    let ibotValue: Tensor | undefined;
    if (this.ibotLoss && rows && weights) {
      ibotValue = this.ibotLoss.forward(
        student.patchLogits!,
        teacher.patchLogits!,
        weights,
        crops,
        temperature,
      );
      accumulate(ibotValue, config.ibotLossWeight);
    }
    let koleoValue: Tensor | undefined;
    if (config.koleoLossWeight > 0) {
      // DINOv2: KoLeo on each global view's CLS features separately, summed
      for (let view = 0; view < globals.length; view++) {
        const features = slice(student.firstFeatures, 0, view * batch, (view + 1) * batch);
        const term = koleoLoss(features);
        features.dispose();
        if (koleoValue) {
          const next = add(koleoValue, term);
          koleoValue.dispose();
          term.dispose();
          koleoValue = next;
        } else koleoValue = term;
      }
      accumulate(koleoValue!, config.koleoLossWeight);
    }
    for (
      const t of [
        student.logits,
        student.firstFeatures,
        student.patchLogits,
        teacher.logits,
        teacher.patchLogits,
        rows,
        weights,
      ]
    ) t?.dispose();
    const result: Omit<StepResult, "centerNormSquared"> = {
      loss: total,
      teacherEntropy: dino.teacherEntropy,
      klDivergence: dino.klDivergence,
    };
    if (ibotValue) result.ibotLoss = noGrad(() => scale(ibotValue!, 1));
    if (koleoValue) result.koleoLoss = noGrad(() => scale(koleoValue!, 1));
    ibotValue?.dispose();
    koleoValue?.dispose();
    return result;
  }

  /** Releases every GPU resource of the run. */
  dispose(): void {
    this.dropCapturedSteps();
    this.student.dispose();
    this.teacher.dispose();
    this.loss.dispose();
    this.ibotLoss?.dispose();
    this.optimizer.dispose();
    this.augmenter.dispose();
  }
}

/** New handles on the tensors of a step result (the capture keeps the originals). */
function viewsOf(result: StepResult): StepResult {
  const views: Record<string, Tensor> = {};
  for (const [name, value] of Object.entries(result)) views[name] = value.view(value.shape);
  return views as unknown as StepResult;
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

/**
 * Grows every token-mixing MLP of `mixer` block-diagonally to a `grid` x `grid` token grid and
 * sets the nested block token order (see src/train/curriculum.ts).
 */
export async function growMixer(mixer: MlpMixer, grid: number): Promise<void> {
  const oldGrid = mixer.tokenGrids.at(-1)!;
  const k = (grid / oldGrid) ** 2;
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(`growMixer: grid ${grid} is not a whole multiple of ${oldGrid}`);
  }
  if (k === 1) return;
  for (const block of mixer.blocks) {
    const named = block.mlpTokens.namedParameters();
    const values = await readAll(named.map(([, value]) => value));
    const grown = new Mlp(block.tokens * k, named[0][1].shape[0] * k, new Random(0));
    const targets = grown.namedParameters();
    named.forEach(([name, value], index) => {
      const result = growTokenMixing(name, value.shape, values[index], k);
      const [targetName, target] = targets[index];
      if (targetName !== name || target.size !== result.values.length) {
        throw new Error(`growMixer: ${name} does not map onto ${targetName}`);
      }
      gpu().upload(target.buffer, result.values);
      target.requiresGrad = value.requiresGrad;
    });
    block.setTokenMixing(grown, block.tokens * k);
  }
  const grids = [...mixer.tokenGrids, grid];
  mixer.setTokenOrder(grids, blockTokenOrder(grids));
  mixer.config.imageSize = grid * mixer.config.patchSize;
  mixer.config.tokenHidden *= k;
}
