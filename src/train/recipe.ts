/**
 * The keys where DINO's and DINOv2's recipes differ around the same losses (issue 22), each with
 * DINO's behaviour as its default, the learning-rate scaling rules, and the DINOv2 preset.
 * @module
 */
import type { DinoTrainConfig } from "./config.ts";

/** The recipe keys of `DinoTrainConfig` that tell DINO's training from DINOv2's. */
export interface RecipeKeys {
  /**
   * Layer-wise learning-rate decay (DINOv2 `optim.layerwise_decay`: 0.9 by default, 1.0 for
   * ViT-L/g): block i of a backbone of depth L learns at `layerwiseDecay ** (L - i)` times the
   * rate, its embeddings at `layerwiseDecay ** (L + 1)`; the heads at the full rate (1 = off).
   */
  layerwiseDecay: number;
  /** Multiplier of the patch embedding's learning rate (DINOv2 `patch_embed_lr_mult`: 0.2). */
  patchEmbedLrMultiplier: number;
  /**
   * Gradient clipping at `clipGrad`: "parameter" (DINO: each gradient by its own norm) or
   * "submodule" (DINOv2: the global norm of each of the backbone, DINO head and iBOT head).
   */
  clipMode: "parameter" | "submodule";
  /**
   * Stochastic depth over the blocks: "linear" (DINO: 0 at the first block up to `dropPathRate`
   * at the last) or "uniform" (DINOv2 `drop_path_uniform`: `dropPathRate` at every block).
   */
  dropPathSchedule: "linear" | "uniform";
  /**
   * Stochastic depth of blocks whose rate is above 0.1 (DINOv2's `Block`): false drops each
   * sample's branch with the rate (DINO), true runs the branch on a random subset of
   * max(floor(B (1 - rate)), 1) samples and adds it scaled by B / subset (cheaper).
   */
  dropPathBatchSubset: boolean;
  /**
   * How `lr` scales with the batch: "linear256" (DINO: lr x batch / 256) or "sqrt1024" (DINOv2
   * `sqrt_wrt_1024`: lr x sqrt(batch / 1024)).
   */
  lrScaling: "linear256" | "sqrt1024";
  /**
   * Unit of the teacher temperature warm-up and the last-layer freeze: "epoch" (DINO: the
   * temperature moves once per epoch, the freeze lasts whole epochs) or "iteration" (DINOv2: the
   * temperature moves at every step, linearly over `warmupTeacherTempEpochs` x steps per epoch,
   * and the freeze ends at step `freezeLastLayer` x steps per epoch).
   */
  scheduleUnit: "epoch" | "iteration";
  /**
   * Initialisation of the ViT's CLS and register tokens: "trunc-normal" (DINO: truncated normal,
   * std 0.02) or "small-normal" (DINOv2: normal, std 1e-6).
   */
  tokenInit: "trunc-normal" | "small-normal";
}

/** DINO's choices for the recipe keys. */
export const DINO_RECIPE: RecipeKeys = {
  layerwiseDecay: 1,
  patchEmbedLrMultiplier: 1,
  clipMode: "parameter",
  dropPathSchedule: "linear",
  dropPathBatchSubset: false,
  lrScaling: "linear256",
  scheduleUnit: "epoch",
  tokenInit: "trunc-normal",
};

/** DINOv2's choices for the recipe keys (`ssl_default_config.yaml`). */
export const DINOV2_RECIPE: RecipeKeys = {
  layerwiseDecay: 0.9,
  patchEmbedLrMultiplier: 0.2,
  clipMode: "submodule",
  dropPathSchedule: "uniform",
  dropPathBatchSubset: true,
  lrScaling: "sqrt1024",
  scheduleUnit: "iteration",
  tokenInit: "small-normal",
};

/** The string-valued recipe keys and their allowed values (for validation). */
export const RECIPE_CHOICES: { [key: string]: readonly string[] } = {
  clipMode: ["parameter", "submodule"],
  dropPathSchedule: ["linear", "uniform"],
  lrScaling: ["linear256", "sqrt1024"],
  scheduleUnit: ["epoch", "iteration"],
  tokenInit: ["trunc-normal", "small-normal"],
};

/**
 * What `--preset dinov2` lays over the data's base preset (DINO_DEFAULTS for large images, the
 * small-data or 28 px recipe for small ones): DINOv2's `ssl_default_config.yaml` and recipe keys,
 * with iBOT (one head shared with DINO, masks on half the global crops at ratio 0.1-0.5), KoLeo
 * 0.1, Sinkhorn-Knopp, 4 registers, LayerScale 1e-5, a trainable weight-norm gain, lr 0.004 per
 * 1024 images (sqrt scaling), teacher momentum 0.992, teacher temperature 0.04 -> 0.07; the
 * schedules that the official config gives in epochs of a 100-epoch run kept as shares of
 * `epochs` (warm-up 10%, temperature warm-up 30%, last layer frozen 1%); uniform drop path 0.1
 * (the official 0.3-0.4 is for ViT-L/g at depth 24-40; the small models here have 3-12 blocks).
 */
export function dinov2Overrides(epochs: number): Partial<DinoTrainConfig> {
  return {
    ...DINOV2_RECIPE,
    centering: "sinkhorn",
    ibotLossWeight: 1,
    ibotMaskProbability: 0.5,
    ibotMaskRatio: [0.1, 0.5],
    ibotSeparateHead: false,
    koleoLossWeight: 0.1,
    registers: 4,
    layerScaleInit: 1e-5,
    dropPathRate: 0.1,
    normLastLayer: false,
    lr: 0.004,
    minLr: 1e-6,
    weightDecay: 0.04,
    weightDecayEnd: 0.4,
    momentumTeacher: 0.992,
    clipGrad: 3,
    warmupTeacherTemp: 0.04,
    teacherTemp: 0.07,
    warmupEpochs: 0.1 * epochs,
    warmupTeacherTempEpochs: 0.3 * epochs,
    freezeLastLayer: 0.01 * epochs,
  };
}

/** The peak learning rate of `lr` at `batchSize` images per step under `rule`. */
export function scaledLr(lr: number, batchSize: number, rule: RecipeKeys["lrScaling"]): number {
  return rule === "sqrt1024" ? lr * Math.sqrt(batchSize / 1024) : lr * batchSize / 256;
}
