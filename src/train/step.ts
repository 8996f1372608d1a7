/**
 * One DINO training step as a plain function, in the order of DINO's `train_one_epoch`
 * (main_dino.py): views -> teacher on the global views -> student on every view -> losses (DINO;
 * DINOv2's iBOT and KoLeo; DINOv3's Gram anchoring against a frozen Gram teacher) -> backward ->
 * clip -> AdamW (last layer frozen early on) -> EMA teacher (in distillation, the student's EMA) ->
 * centres. A step whose gradients are not finite changes neither the student nor the centres
 * (`StepGuard`, src/optim/step_guard.ts); it is counted in `skippedSteps`.
 *
 * The step reads what changes per call only from its declared inputs (`DinoStepInputs`: the batch,
 * the teacher momentum) and what is fixed for a recording from `DinoStepShape`, so that
 * `StepRecorder` (src/gpu/recorder.ts) can record it once and replay it; `DinoTrainer` wires the
 * two together. No readback happens: the loss and monitors stay on the GPU until logged.
 * @module
 */
import type { MultiCropAugmenter } from "../data/multi_crop.ts";
import type { AdamW } from "../optim/adamw.ts";
import { checkGradients, clipFactorsPerParameter, clipGradNorm } from "../optim/clip.ts";
import { emaUpdate } from "../optim/ema.ts";
import type { StepGuard } from "../optim/step_guard.ts";
import { scale } from "../ops/elementwise/forward.ts";
import { concat, slice } from "../ops/shape/forward.ts";
import type { Module } from "../nn/module.ts";
import { VisionTransformer } from "../nn/vit.ts";
import { backward, zeroGrad } from "../tensor/backward.ts";
import type { Random } from "../tensor/random.ts";
import { noGrad } from "../tensor/tape.ts";
import { type Tensor, tensor, tidy } from "../tensor/tensor.ts";
import { sumOf, type TeacherTemperature } from "./centering.ts";
import type { DinoTrainConfig } from "./config.ts";
import type { DinoLoss } from "./dino_loss.ts";
import type { IbotPatchLoss } from "./ibot.ts";
import { koleoLoss } from "./koleo.ts";
import { drawMaskBatch } from "./masking.ts";
import { gramLoss } from "./gram_loss.ts";
import type { Backbone, DinoNetwork } from "./models.ts";

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
  /** The Gram anchoring loss (unweighted), when it is on in this step. */
  gramLoss?: Tensor;
  /** u32 [2]: steps skipped so far for gradients that were not finite, and skipped in a row. */
  skippedSteps: Tensor;
}

/** What a step works on: the networks, losses, optimizer and augmenter of a run. */
export interface DinoStepParts {
  /** The configuration (loss weights, clipping). */
  config: DinoTrainConfig;
  /** The student (trained by gradient). */
  student: DinoNetwork;
  /** The teacher (no gradient). */
  teacher: DinoNetwork;
  /** Whether the teacher is frozen (distillation) rather than an EMA of the student. */
  frozenTeacher: boolean;
  /** Distillation's EMA of the student, when kept (`studentEma`). */
  studentEma: DinoNetwork | undefined;
  /** The multi-crop augmenter, with this step's parameters drawn (`MultiCropAugmenter.draw`). */
  augmenter: MultiCropAugmenter;
  /** The DINO loss and its centre. */
  loss: DinoLoss;
  /** The iBOT patch loss, when iBOT is on. */
  ibotLoss: IbotPatchLoss | undefined;
  /** The generator of the iBOT masks. */
  maskRandom: Random;
  /** AdamW over the student, with this step's learning rate and weight decay set. */
  optimizer: AdamW;
  /** The frozen Gram teacher (a snapshot of the EMA teacher's backbone), when Gram is on. */
  gramTeacher: Backbone | undefined;
  /** Skips the updates of a step whose gradients are not finite (an f16 overflow). */
  guard: StepGuard;
}

/** What a step reads from the GPU that changes at every step (uploaded before it runs). */
export interface DinoStepInputs {
  /** The batch: uint8 RGB HWC images, four bytes per u32 word (as `uploadImageBatch`). */
  images: Tensor;
  /** The teacher's EMA momentum of this step [1]. */
  momentum: Tensor;
  /**
   * `teacherTemperature / temperature of this step` [1], read when `perStepTemperature` is set
   * (the teacher logits are multiplied by it before the sharpening at the shape's temperature).
   */
  temperatureScale: Tensor;
}

/** What is fixed for a recorded step: the batch shape and per-phase or per-epoch values. */
export interface DinoStepShape {
  /** Images in the batch. */
  batch: number;
  /** Their height. */
  height: number;
  /** Their width. */
  width: number;
  /** Side of the global crops (the resolution phase's). */
  globalSize: number;
  /**
   * Teacher temperature (a uniform parameter, so part of the recording): the epoch's, or with
   * `perStepTemperature` the fixed reference the uploaded `temperatureScale` is relative to.
   */
  teacherTemperature: number;
  /** Whether the temperature changes per step (DINOv2's `scheduleUnit` "iteration"). */
  perStepTemperature: boolean;
  /** Whether the last layer is frozen (DINO's first epoch). */
  frozenLastLayer: boolean;
  /** The resolution phase (its crop sizes are the augmenter's). */
  phase: number;
  /** The augmentation kernels this step records (`MultiCropAugmenter.draw`). */
  augmentKernels: string;
  /** Whether the Gram anchoring loss is on in this step (from `gramStartStep`). */
  gramActive: boolean;
}

/** One DINO step on `inputs` (see the module doc). */
export function dinoStep(
  parts: DinoStepParts,
  inputs: DinoStepInputs,
  shape: DinoStepShape,
): StepResult {
  const { config, student, teacher, optimizer } = parts;
  // views: two global crops and the local ones, augmented on the GPU
  const crops = parts.augmenter.augment(inputs.images, shape.batch, shape.height, shape.width);
  const views = crops.locals.length > 0 ? [crops.globals, crops.locals] : [crops.globals];
  // iBOT: block masks over the patches of the global views
  const masks = parts.ibotLoss ? drawMasks(parts, shape) : undefined;

  // the teacher sees the global views only, without gradient; the student sees every view
  const teacherOut = noGrad(() => forwardViews(parts, teacher, [crops.globals], masks, shape));
  const studentOut = forwardViews(parts, student, views, masks, shape, true);
  // DINOv3's Gram teacher: a frozen snapshot's patch tokens on the same global views
  const gramTargets = shape.gramActive
    ? noGrad(() => gramPatches(parts, crops.globals))
    : undefined;

  // DINO's loss, plus iBOT's, KoLeo's and Gram's as weighted
  const temperature: TeacherTemperature = shape.perStepTemperature
    ? { reference: shape.teacherTemperature, scale: inputs.temperatureScale }
    : shape.teacherTemperature;
  const losses = stepLosses(parts, studentOut, teacherOut, masks, temperature, gramTargets);
  disposeAll(studentOut.logits, studentOut.firstFeatures, studentOut.patchLogits);
  disposeAll(studentOut.firstPatches, gramTargets);
  disposeAll(masks?.rows, masks?.weights, ...crops.globals, ...crops.locals);

  backward(losses.loss);
  // clipping (or a check) raises the guard's flag when a gradient is not finite: the updates of
  // the step (AdamW, the centres) are then skipped, so no NaN reaches the weights
  const clipFactors = clipGradients(student, optimizer, config, parts.guard);
  // DINO's cancel_gradients_last_layer: the last layer learns nothing in the first epoch(s)
  if (shape.frozenLastLayer) zeroGrad(student.head.lastLayerParameters());
  optimizer.step({ gradScale: clipFactors, skipIf: parts.guard.flag });
  clipFactors?.dispose();
  zeroGrad(optimizer.parameters);

  // the teacher follows the student (a frozen teacher, in distillation, stays as it is, and the
  // student's own EMA follows it on the same momentum)
  const follower = parts.frozenTeacher ? parts.studentEma : teacher;
  if (follower) {
    noGrad(() => emaUpdate(follower.parameters(), student.parameters(), inputs.momentum));
  }
  // the centres follow the teacher's mean outputs
  const skipIf = parts.guard.flag;
  parts.loss.updateCenter(teacherOut.logits, skipIf);
  if (teacherOut.patchLogits) parts.ibotLoss?.updateCenter(teacherOut.patchLogits, skipIf);
  disposeAll(teacherOut.logits, teacherOut.patchLogits);
  parts.guard.endStep();
  return {
    ...losses,
    centerNormSquared: parts.loss.centerNorm(),
    skippedSteps: parts.guard.snapshot(),
  };
}

/**
 * Clips the student's gradients at `clipGrad`: each by its own norm (DINO: returns the factors,
 * one per parameter of `optimizer`, for `AdamW.step({ gradScale })` to apply inside the update),
 * or by the global norm of each submodule, backbone, DINO head and a separate iBOT head (DINOv2's
 * `for v in student.values(): v.clip_grad_norm_(clip_grad)`, in place); with `clipGrad` 0, only
 * checks them (given a guard). A norm that is not finite raises `guard`'s flag.
 */
export function clipGradients(
  student: DinoNetwork,
  optimizer: AdamW,
  config: DinoTrainConfig,
  guard?: StepGuard,
): Tensor | undefined {
  if (!(config.clipGrad > 0)) {
    if (guard) checkGradients(optimizer.parameters, guard);
  } else if (config.clipMode === "parameter") {
    return clipFactorsPerParameter(optimizer.parameters, config.clipGrad, guard);
  } else {
    for (const submodule of studentSubmodules(student)) {
      clipGradNorm(submodule.parameters(), config.clipGrad, guard).dispose();
    }
  }
  return undefined;
}

/** The student's submodules as DINOv2 clips them: backbone, DINO head, separate iBOT head. */
export function studentSubmodules(student: DinoNetwork): Module[] {
  const submodules: Module[] = [student.backbone, student.head];
  if (student.ibotHead && student.ibotHead !== student.head) submodules.push(student.ibotHead);
  return submodules;
}

/** A network's outputs on some views. */
interface ViewOutputs {
  /** Head outputs, the views' groups in order. */
  logits: Tensor;
  /** Backbone features of the first group (the global views), when KoLeo needs them. */
  firstFeatures?: Tensor;
  /** iBOT head outputs at the masked rows, when iBOT is on and rows are masked. */
  patchLogits?: Tensor;
  /** The student's patch tokens of the global views, when the Gram loss is on. */
  firstPatches?: Tensor;
}

/** The iBOT masks of a step: rows (i32) into the global views' patches, and their weights. */
interface Masks {
  /** Masked rows, or none when no crop was masked. */
  rows?: Tensor;
  /** 1 / (masked patches of the row's crop), per masked row. */
  weights?: Tensor;
  /** Global crops the masks were drawn for. */
  crops: number;
}

function drawMasks(parts: DinoStepParts, shape: DinoStepShape): Masks {
  const { config } = parts;
  const crops = 2 * shape.batch;
  const grid = shape.globalSize / config.patchSize;
  const masks = drawMaskBatch(crops, {
    gridHeight: grid,
    gridWidth: grid,
    ratio: config.ibotMaskRatio,
    probability: config.ibotMaskProbability,
  }, parts.maskRandom);
  if (masks.indices.length === 0) return { crops };
  return {
    rows: tensor(masks.indices, [masks.indices.length], "i32"),
    weights: tensor(masks.weights, [masks.weights.length]),
    crops,
  };
}

/**
 * DINOv2's and DINOv3's terms need more than the logits: first-view features, masked-patch
 * logits, the student's patch tokens.
 */
function usesParts(parts: DinoStepParts, shape: DinoStepShape): boolean {
  return parts.ibotLoss !== undefined || parts.config.koleoLossWeight > 0 || shape.gramActive;
}

function forwardViews(
  parts: DinoStepParts,
  network: DinoNetwork,
  views: Tensor[][],
  masks: Masks | undefined,
  shape: DinoStepShape,
  isStudent = false,
): ViewOutputs {
  if (!usesParts(parts, shape)) return { logits: network.forward(views) };
  const keepPatches = isStudent && shape.gramActive;
  const maskInput = isStudent && parts.config.ibotMaskStudent;
  const outputs: ViewOutputs = network.forwardParts(views, masks?.rows, maskInput, keepPatches);
  if (!isStudent) outputs.firstFeatures!.dispose();
  return outputs;
}

/** The Gram teacher's patch tokens [2B, patches, dim] on the global views. */
function gramPatches(parts: DinoStepParts, globals: Tensor[]): Tensor {
  const backbone = parts.gramTeacher;
  if (!(backbone instanceof VisionTransformer)) {
    throw new Error("dinoStep: the Gram loss is on but there is no ViT Gram teacher");
  }
  return tidy(() => {
    const batch = globals.length === 1 ? globals[0] : concat(globals, 0);
    const { cls, patches } = backbone.forward(batch);
    cls.dispose();
    return patches;
  });
}

/** DINO's loss, plus iBOT's and KoLeo's as weighted; the centres are left to the step's end. */
function stepLosses(
  parts: DinoStepParts,
  student: ViewOutputs,
  teacher: ViewOutputs,
  masks: Masks | undefined,
  temperature: TeacherTemperature,
  gramTargets: Tensor | undefined,
): Omit<StepResult, "centerNormSquared" | "skippedSteps"> {
  const { config } = parts;
  const batch = teacher.logits.shape[0] / 2;
  return tidy(() => {
    const dino = parts.loss.compute(student.logits, teacher.logits, temperature);
    const terms = [dino.loss];
    let ibot: Tensor | undefined;
    if (parts.ibotLoss && masks?.rows && masks.weights) {
      ibot = parts.ibotLoss.compute(
        student.patchLogits!,
        teacher.patchLogits!,
        masks.weights,
        masks.crops,
        temperature,
      );
      terms.push(scale(ibot, config.ibotLossWeight));
    }
    let koleo: Tensor | undefined;
    if (config.koleoLossWeight > 0) {
      // DINOv2: KoLeo on each global view's CLS features separately, summed
      const features = student.firstFeatures!;
      koleo = sumOf(
        [0, 1].map((view) =>
          tidy(() => koleoLoss(slice(features, 0, view * batch, (view + 1) * batch)))
        ),
      );
      terms.push(scale(koleo, config.koleoLossWeight));
    }
    let gram: Tensor | undefined;
    if (gramTargets) {
      gram = gramLoss(student.firstPatches!, gramTargets);
      terms.push(scale(gram, config.gramLossWeight));
    }
    const result: Omit<StepResult, "centerNormSquared" | "skippedSteps"> = {
      loss: sumOf(terms),
      teacherEntropy: dino.teacherEntropy,
      klDivergence: dino.klDivergence,
    };
    if (ibot) result.ibotLoss = copy(ibot);
    if (koleo) result.koleoLoss = copy(koleo);
    if (gram) result.gramLoss = copy(gram);
    return result;
  });
}

/** A copy off the tape (a monitor). */
function copy(value: Tensor): Tensor {
  return noGrad(() => scale(value, 1));
}

function disposeAll(...tensors: (Tensor | undefined)[]): void {
  for (const value of tensors) value?.dispose();
}
