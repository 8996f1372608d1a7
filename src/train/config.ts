/**
 * DINO training configuration: every knob with the paper's default, a small-data preset for
 * 28-96 px images, and validation that names unknown keys and lists the valid ones.
 * @module
 */

import { DINO_RECIPE, type RecipeKeys } from "./recipe.ts";

/** Everything `dinogpu train` can be told (the DINO / DINOv2 recipe keys in `RecipeKeys`). */
export interface DinoTrainConfig extends RecipeKeys {
  /** Data: "synthetic", "textures", "fashion-mnist", "mnist:DIR" or "folder:DIR" (a data spec). */
  data: string;
  /**
   * The labelled data spec the k-NN evaluations use (memory bank: its train split, queries: its
   * test split); "" = the splits of `data`, when it has labels and a test split.
   */
  evalData: string;
  /** Images of the synthetic set (train split; a fifth more are made for the test split). */
  syntheticCount: number;
  /** Side of the (square) training images; images of another size are resized. */
  imageSize: number;
  /** Backbone: "vit" or "mixer". */
  arch: "vit" | "mixer";
  /** Patch size. */
  patchSize: number;
  /** Backbone width. */
  embedDim: number;
  /** Backbone depth. */
  depth: number;
  /** Attention heads (ViT). */
  heads: number;
  /** Token-mixing hidden width (Mixer). */
  tokenHidden: number;
  /** Channel-mixing hidden width (Mixer). */
  channelHidden: number;
  /** Stochastic depth rate of the student. */
  dropPathRate: number;
  /**
   * How a ViT sees positions: "learned" (a position embedding: DINO, DINOv2) or "rope" (DINOv3's
   * axial rotary embedding of the patch tokens' queries and keys; head width a multiple of 4).
   */
  positionEmbedding: "learned" | "rope";
  /**
   * RoPE coordinate augmentation of the student in training (DINOv3's `pos_embed_rope_*_coords`;
   * 0 = off): `[shift, jitter, rescale]`: shift each axis by up to `shift`, scale each by a
   * log-uniform draw in [1/jitter, jitter], then both by one in [1/rescale, rescale] (the 7B
   * recipe: [0, 0, 2]).
   */
  ropeCoordinateAugmentation: [number, number, number];
  /** Register tokens of a ViT (DINOv2 with registers: 4; DINOv3's storage tokens: 4). */
  registers: number;
  /** LayerScale initial value of a ViT's blocks (DINOv2, DINOv3: 1e-5; 0 = no LayerScale). */
  layerScaleInit: number;
  /** Feed-forward of a ViT's blocks: "mlp" (GELU) or "swiglu" (DINOv2 giant, DINOv3 S+/H+/7B). */
  feedForward: "mlp" | "swiglu";
  /** Prototypes of the DINO head. */
  outDim: number;
  /** Hidden width of the head. */
  headHidden: number;
  /** Bottleneck width of the head. */
  headBottleneck: number;
  /** Layers of the head MLP. */
  headLayers: number;
  /** Freeze the magnitude of the head's last layer at 1. */
  normLastLayer: boolean;
  /** Epochs. */
  epochs: number;
  /** Images per step. */
  batchSize: number;
  /** Peak learning rate per 256 images (scaled by batchSize / 256; see `lrScaling`). */
  lr: number;
  /** Final learning rate of the cosine. */
  minLr: number;
  /** Linear warm-up epochs of the learning rate. */
  warmupEpochs: number;
  /** Weight decay at the start (cosine to weightDecayEnd). */
  weightDecay: number;
  /** Weight decay at the end. */
  weightDecayEnd: number;
  /** Teacher EMA momentum at the start (cosine to 1). */
  momentumTeacher: number;
  /** Per-parameter gradient norm clip (0 = off). */
  clipGrad: number;
  /** Epochs during which the head's last layer is frozen. */
  freezeLastLayer: number;
  /** Student temperature. */
  studentTemp: number;
  /** Teacher temperature at the start of its warm-up. */
  warmupTeacherTemp: number;
  /** Teacher temperature after the warm-up. */
  teacherTemp: number;
  /** Epochs of the teacher temperature warm-up. */
  warmupTeacherTempEpochs: number;
  /** Centre EMA momentum. */
  centerMomentum: number;
  /** Side of the global crops. */
  globalSize: number;
  /** Area range of the global crops. */
  globalScale: [number, number];
  /** Side of the local crops. */
  localSize: number;
  /** Area range of the local crops. */
  localScale: [number, number];
  /** Number of local crops. */
  localCrops: number;
  /** Gaussian blur probability of global 1, global 2 and the locals (DINO: 1.0, 0.1, 0.5). */
  blurProbabilities: [number, number, number];
  /** Solarisation probability of global 2 (DINO: 0.2). */
  solarizeProbability: number;
  /**
   * ColorJitter strengths [brightness, contrast, saturation, hue] of every view (DINO: 0.4, 0.4,
   * 0.2, 0.1). Images whose colour tells nothing of their class want more (hue up to 0.5).
   */
  colorJitter: [number, number, number, number];
  /** Probability of ColorJitter per view (DINO: 0.8). */
  colorJitterProbability: number;
  /** Probability of grayscale per view (DINO: 0.2). */
  grayscaleProbability: number;
  /** Seed of everything random. */
  seed: number;
  /** Read the loss back and write a metrics line every this many steps. */
  logEvery: number;
  /** Run k-NN on the held-out split (see `evalData`) every this many epochs (0 = only at the end). */
  evalEvery: number;
  /** Train images used as the k-NN memory bank in evaluations (0 = all). */
  evalTrainLimit: number;
  /**
   * The k-NN before training: "auto" runs it unless its images are streamed (decoded from their
   * files: folder:, list:, tar:) and more than `KNN_BEFORE_TRAINING_IMAGES` in all, where decoding
   * them would hold up the first step for minutes; "always"; "never".
   */
  knnBeforeTraining: "auto" | "always" | "never";
  /** Write a checkpoint every this many minutes as well as every epoch (0 = epochs only). */
  checkpointEvery: number;
  /** Output folder (checkpoints, metrics.jsonl). */
  out: string;
  /**
   * A list of the train images to train on, as `curate` writes them (`train/N` a line: dedup's
   * kept.txt, cluster's sampled.txt); "" trains on the whole train split. The k-NN bank stays the
   * whole split.
   */
  trainSubset: string;
  /** Stop after this many steps (0 = run all epochs); for tests and quick looks. */
  maxSteps: number;
  /** Teacher normalisation: "centering" (DINO) or "sinkhorn" (DINOv2's Sinkhorn-Knopp, 3 steps). */
  centering: "centering" | "sinkhorn";
  /**
   * Precision of the networks' Linear products (`ComputePrecision`): "f32", or "f16" operands
   * with f32 sums, f32 weights, optimizer state and gradients.
   */
  precision: "f32" | "f16";
  /** Weight of the KoLeo regulariser on the student's global CLS features (DINOv2: 0.1; 0 = off). */
  koleoLossWeight: number;
  /** Weight of the iBOT masked-patch loss (DINOv2: 1.0; 0 = off, plain DINO). ViT only. */
  ibotLossWeight: number;
  /** Range of the per-crop mask ratio (DINOv2: [0.1, 0.5]). */
  ibotMaskRatio: [number, number];
  /** Share of the student's global crops that get a mask (DINOv2: 0.5). */
  ibotMaskProbability: number;
  /** Prototypes of the iBOT head (0 = same as outDim). */
  ibotOutDim: number;
  /** Give iBOT its own head (DINOv2 default) rather than sharing the DINO head. */
  ibotSeparateHead: boolean;
  /**
   * Resolution curriculum: `[startFraction, globalSize, localSize]` phases by fraction of the
   * run's steps (epochs x steps per epoch), ascending in (0, 1); before the first phase
   * `globalSize` / `localSize` apply. Example: `[[0.9, 56, 28]]` for a final 10% at 56 px.
   */
  resolutionSchedule: [number, number, number][];
  /**
   * High-resolution phase (DINOv2's final 518 px period, DINOv3's `high_res_adapt` config): after
   * the `epochs` of the run, `highResSteps` more steps with global crops of `highResSize` px (0 =
   * no phase). At its start the position embeddings are interpolated once to the new grid and the
   * optimizer starts afresh; in it the learning rate rises from 0 to `highResLrFraction` of the
   * peak along a half cosine over the first third of the phase and stays there, the teacher
   * momentum is `highResMomentum`, weight decay and teacher temperature keep their final values.
   */
  highResSize: number;
  /** Steps of the high-resolution phase. */
  highResSteps: number;
  /** Side of the local crops in the high-resolution phase (0: scaled like the global crops). */
  highResLocalSize: number;
  /** Peak learning rate of the high-resolution phase as a fraction of the run's (DINOv3: 0.25). */
  highResLrFraction: number;
  /** Teacher momentum in the high-resolution phase (DINOv3: 0.999). */
  highResMomentum: number;
  /**
   * Weight of DINOv3's Gram anchoring loss (0 = off): the mean squared difference between the
   * Gram matrices of the L2-normalised patch features of the student's global views and those of
   * a frozen Gram teacher on the same views (ViT only).
   */
  gramLossWeight: number;
  /** Step at which the Gram teacher is taken from the EMA teacher and the Gram loss starts. */
  gramStartStep: number;
  /** Refresh the Gram teacher from the EMA teacher every this many steps after the start (0 = never). */
  gramUpdateEvery: number;
  /**
   * Distillation (a frozen teacher): keep an EMA of the student, on the teacher momentum's
   * schedule, and evaluate and save it as the run's model (DINOv3's `model_ema`); false evaluates
   * the student itself. No effect when the teacher is the student's own EMA.
   */
  studentEma: boolean;
  /**
   * Whether the student sees mask tokens at the iBOT rows (DINOv2, DINOv3 training). Distillation
   * turns it off (DINOv3 `masks=None` when distilling): the student sees the whole global view and
   * is taught the teacher's patch outputs at the sampled rows.
   */
  ibotMaskStudent: boolean;
}

/** The DINO paper's defaults (ViT-S/16 on ImageNet, batch 1024 scaled down to what fits here). */
export const DINO_DEFAULTS: DinoTrainConfig = {
  data: "synthetic",
  evalData: "",
  syntheticCount: 2000,
  imageSize: 224,
  arch: "vit",
  patchSize: 16,
  embedDim: 384,
  depth: 12,
  heads: 6,
  tokenHidden: 256,
  channelHidden: 2048,
  dropPathRate: 0.1,
  positionEmbedding: "learned",
  ropeCoordinateAugmentation: [0, 0, 0],
  registers: 0,
  layerScaleInit: 0,
  feedForward: "mlp",
  outDim: 65536,
  headHidden: 2048,
  headBottleneck: 256,
  headLayers: 3,
  normLastLayer: true,
  epochs: 100,
  batchSize: 64,
  lr: 5e-4,
  minLr: 1e-6,
  warmupEpochs: 10,
  weightDecay: 0.04,
  weightDecayEnd: 0.4,
  momentumTeacher: 0.996,
  clipGrad: 3.0,
  freezeLastLayer: 1,
  studentTemp: 0.1,
  warmupTeacherTemp: 0.04,
  teacherTemp: 0.04,
  warmupTeacherTempEpochs: 0,
  centerMomentum: 0.9,
  globalSize: 224,
  globalScale: [0.4, 1],
  localSize: 96,
  localScale: [0.05, 0.4],
  blurProbabilities: [1.0, 0.1, 0.5],
  solarizeProbability: 0.2,
  colorJitter: [0.4, 0.4, 0.2, 0.1],
  colorJitterProbability: 0.8,
  grayscaleProbability: 0.2,
  localCrops: 8,
  seed: 0,
  logEvery: 10,
  evalEvery: 0,
  evalTrainLimit: 0,
  knnBeforeTraining: "auto",
  checkpointEvery: 0,
  out: "runs/dino",
  trainSubset: "",
  maxSteps: 0,
  centering: "centering",
  precision: "f32",
  koleoLossWeight: 0,
  ibotLossWeight: 0,
  ibotMaskRatio: [0.1, 0.5],
  ibotMaskProbability: 0.5,
  ibotOutDim: 0,
  ibotSeparateHead: true,
  resolutionSchedule: [],
  highResSize: 0,
  highResSteps: 0,
  highResLocalSize: 0,
  highResLrFraction: 0.25,
  highResMomentum: 0.999,
  gramLossWeight: 0,
  gramStartStep: 0,
  gramUpdateEvery: 0,
  studentEma: true,
  ibotMaskStudent: true,
  ...DINO_RECIPE,
};

/**
 * The small-data preset for 28-96 px images (after Gani et al.'s DINO recipe for small data sets):
 * a small ViT with small patches, globals at full size with scale (0.7, 1), locals at half size
 * with scale (0.2, 0.5), 1024 prototypes, last layer not weight-norm frozen, teacher temperature
 * 0.04 -> 0.07 over the first epochs; the depth and width are cut to what a CPU adapter trains in
 * minutes. `patchSize` defaults to 4 up to 32 px and 8 above; the local crop side is the multiple
 * of it nearest half the image.
 */
export function smallDataConfig(
  imageSize: number,
  patchSize: number = imageSize <= 32 ? 4 : 8,
): Partial<DinoTrainConfig> {
  return {
    imageSize,
    patchSize,
    embedDim: 96,
    depth: 4,
    heads: 3,
    tokenHidden: 64,
    channelHidden: 192,
    dropPathRate: 0.0,
    outDim: 1024,
    headHidden: 256,
    headBottleneck: 64,
    normLastLayer: false,
    batchSize: 64,
    lr: 5e-4,
    warmupEpochs: 1,
    warmupTeacherTemp: 0.04,
    teacherTemp: 0.07,
    warmupTeacherTempEpochs: 2,
    freezeLastLayer: 0,
    globalSize: imageSize,
    globalScale: [0.7, 1],
    localSize: Math.max(patchSize, Math.round(imageSize / 2 / patchSize) * patchSize),
    localScale: [0.2, 0.5],
    localCrops: 4,
    // DINO's blur (sigma 0.1-2 px, made for 224 px) wipes out 28-32 px images; small-data
    // recipes (solo-learn's CIFAR settings) leave it out and keep solarisation.
    blurProbabilities: [0, 0, 0],
    epochs: 10,
  };
}

/**
 * The recipe for 28 px grayscale sets (Fashion-MNIST, MNIST), the best measured on Fashion-MNIST
 * (README, docs/RECIPES.md), laid over the small-data preset: a ViT of patch 7 (16 tokens), width
 * 64 and depth 3; a 256-wide head onto 1024 weight-normalised prototypes; batch 128 at lr 2e-3
 * per 256 images after
 * a half-epoch warm-up; momentum 0.996; KoLeo 0.3 and a teacher temperature of 0.025 throughout,
 * which together keep the teacher from drifting towards uniform outputs at this scale (0.04 let
 * its entropy climb to 5.6 nats and ended 1.9 points lower); the two global views only, since
 * 14 px local crops (2 x 2 patches) cost more than they teach at 28 px; twenty epochs (k-NN 85.08%
 * on CLS against raw pixels' 84.59%; lr 1e-3 gave 84.51%; about 2 h on two CPU cores).
 */
export const MNIST_RECIPE: Partial<DinoTrainConfig> = {
  patchSize: 7,
  embedDim: 64,
  depth: 3,
  heads: 4,
  outDim: 1024,
  headHidden: 256,
  headBottleneck: 64,
  normLastLayer: true,
  batchSize: 128,
  lr: 2e-3,
  warmupEpochs: 0.5,
  warmupTeacherTemp: 0.025,
  teacherTemp: 0.025,
  warmupTeacherTempEpochs: 0,
  momentumTeacher: 0.996,
  koleoLossWeight: 0.3,
  localCrops: 0,
  epochs: 20,
};

/** The presets a run starts from; "auto" picks one by the data (`autoPreset`). */
export const PRESETS = ["auto", "dino", "small", "mnist", "dinov2"] as const;

/**
 * A preset: "dino" (DINO_DEFAULTS), "small" (smallDataConfig), "mnist" (MNIST_RECIPE), "dinov2"
 * (`dinov2Overrides` over what "auto" picks) or "auto".
 */
export type Preset = typeof PRESETS[number];

/** Whether a data spec names one of the sets generated in code ("synthetic", "textures"). */
export function generatedData(data: string): boolean {
  return data.startsWith("synthetic") || data.startsWith("textures");
}

/**
 * The preset that fits the data spec `data` at `imageSize` px (what "auto" picks): "mnist" for
 * MNIST-format data at 28 px; "small" for the generated sets, MNIST-format data at other sizes and
 * any images up to 96 px; "dino" above.
 */
export function autoPreset(data: string, imageSize: number): Exclude<Preset, "auto"> {
  const mnist = data.includes("mnist");
  if (mnist && imageSize === 28) return "mnist";
  return generatedData(data) || mnist || imageSize <= 96 ? "small" : "dino";
}
