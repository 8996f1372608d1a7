/**
 * The networks DINO trains: a backbone (ViT or MLP-Mixer) with a DINO head, built from a training
 * configuration, plus copying one set of weights into another (the teacher starts as the student).
 * @module
 */
import { gpu } from "../gpu/device.ts";
import { DinoHead } from "../nn/dino_head.ts";
import { MlpMixer } from "../nn/mixer.ts";
import { Module } from "../nn/module.ts";
import { augmentsRope, type RopeAugmentation } from "../nn/rope.ts";
import { VisionTransformer } from "../nn/vit.ts";
import { concat, reshape } from "../ops/shape/forward.ts";
import { gatherRows } from "../ops/shape/rows.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { DinoTrainConfig } from "./config.ts";

/** A backbone that maps images [B, C, H, W] to one feature vector per image [B, dim]. */
export type Backbone = VisionTransformer | MlpMixer;

/** The image features of a backbone: the final-norm CLS token (ViT) or mean token (Mixer). */
export function backboneFeatures(backbone: Backbone, images: Tensor): Tensor {
  if (backbone instanceof VisionTransformer) {
    const { cls, patches } = backbone.forward(images);
    patches.dispose();
    return cls;
  }
  const { pooled, tokens } = backbone.forward(images);
  tokens.dispose();
  return pooled;
}

/**
 * Builds the backbone a configuration describes (`dropPath` false for the teacher), at the
 * configuration's `precision`.
 */
export function buildBackbone(config: DinoTrainConfig, dropPath: boolean, channels = 3): Backbone {
  return backboneOf(config, dropPath, channels).setPrecision(config.precision ?? "f32");
}

function backboneOf(config: DinoTrainConfig, dropPath: boolean, channels: number): Backbone {
  if (config.arch === "mixer") {
    return new MlpMixer({
      imageSize: config.globalSize,
      patchSize: config.patchSize,
      inChannels: channels,
      embedDim: config.embedDim,
      depth: config.depth,
      tokenHidden: config.tokenHidden,
      channelHidden: config.channelHidden,
      seed: config.seed,
    });
  }
  return new VisionTransformer({
    imageSize: config.globalSize,
    patchSize: config.patchSize,
    inChannels: channels,
    embedDim: config.embedDim,
    depth: config.depth,
    heads: config.heads,
    positionEmbedding: config.positionEmbedding,
    ropeAugmentation: ropeAugmentationOf(config),
    registers: config.registers,
    layerScaleInit: config.layerScaleInit > 0 ? config.layerScaleInit : undefined,
    feedForward: config.feedForward,
    dropPathRate: dropPath ? config.dropPathRate : 0,
    dropPathSchedule: config.dropPathSchedule,
    dropPathBatchSubset: config.dropPathBatchSubset,
    tokenInit: config.tokenInit,
    maskToken: config.ibotLossWeight > 0,
    seed: config.seed,
  });
}

/** The RoPE coordinate augmentation of a configuration, or undefined when it is off. */
function ropeAugmentationOf(config: DinoTrainConfig): RopeAugmentation | undefined {
  const [shift, jitter, rescale] = config.ropeCoordinateAugmentation;
  const augmentation = { shift, jitter, rescale };
  return config.positionEmbedding === "rope" && augmentsRope(augmentation)
    ? augmentation
    : undefined;
}

/** The DINO head a configuration describes (`outDim` overridable for the iBOT head). */
export function buildHead(
  config: DinoTrainConfig,
  inDim: number,
  outDim = config.outDim,
  seed = 1,
): DinoHead {
  return new DinoHead({
    inDim,
    outDim,
    hiddenDim: config.headHidden,
    bottleneckDim: config.headBottleneck,
    layers: config.headLayers,
    normLastLayer: config.normLastLayer,
    seed: config.seed + seed,
  });
}

/** The prototypes of the iBOT head of `config` (`ibotOutDim`, or `outDim` when 0). */
export function ibotOutDim(config: DinoTrainConfig): number {
  return config.ibotOutDim > 0 ? config.ibotOutDim : config.outDim;
}

/** What `DinoNetwork.forwardParts` returns. */
export interface DinoNetworkParts {
  /** Head outputs [sum of batches, outDim], the groups in order. */
  logits: Tensor;
  /** Backbone CLS features of the first group [B0, dim] (KoLeo). */
  firstFeatures: Tensor;
  /** iBOT head outputs at the masked rows [M, ibotOutDim], when masked rows were given. */
  patchLogits?: Tensor;
  /** Backbone patch tokens of the first group [B0, patches, dim], when asked for (Gram loss). */
  firstPatches?: Tensor;
}

/** Backbone + DINO head, as DINO's MultiCropWrapper: crops of one size go through together. */
export class DinoNetwork extends Module {
  /** The backbone. */
  readonly backbone: Backbone;
  /** The projection head. */
  readonly head: DinoHead;
  /** The iBOT patch head (the DINO head itself when not separate; undefined without iBOT). */
  readonly ibotHead: DinoHead | undefined;

  /**
   * Builds the network of `config`, or wraps given `parts` (a loaded backbone and head: the
   * frozen teacher of distillation).
   */
  constructor(
    config: DinoTrainConfig,
    dropPath: boolean,
    parts?: { backbone: Backbone; head: DinoHead; ibotHead?: DinoHead },
  ) {
    super();
    this.backbone = this.child("backbone", parts?.backbone ?? buildBackbone(config, dropPath));
    this.head = this.child("head", parts?.head ?? buildHead(config, config.embedDim));
    if (parts) {
      this.ibotHead = parts.ibotHead && parts.ibotHead !== parts.head
        ? this.child("ibot_head", parts.ibotHead)
        : parts.ibotHead;
    } else if (config.ibotLossWeight > 0) {
      this.ibotHead = config.ibotSeparateHead
        ? this.child("ibot_head", buildHead(config, config.embedDim, ibotOutDim(config), 2))
        : this.head;
    }
    this.setPrecision(config.precision ?? "f32");
  }

  /**
   * Like `forward`, also returning the first group's backbone features and, when `maskedRows`
   * (i32 indices into the first group's [B0 * patches] rows) are given, the iBOT head outputs
   * at those rows; with `studentMask` the first group's patches at those rows are replaced by
   * the mask token first (the student), else the tokens are left alone (the teacher). With
   * `keepPatches` the first group's patch tokens are returned too (a ViT's).
   */
  forwardParts(
    groups: Tensor[][],
    maskedRows?: Tensor,
    studentMask = false,
    keepPatches = false,
  ): DinoNetworkParts {
    let patchLogits: Tensor | undefined;
    let firstPatches: Tensor | undefined;
    const features = groups.map((crops, index) => {
      const batch = crops.length === 1 ? crops[0] : concat(crops, 0);
      let result: Tensor;
      if (index === 0 && (maskedRows || keepPatches)) {
        if (!(this.backbone instanceof VisionTransformer) || (maskedRows && !this.ibotHead)) {
          throw new Error(
            "DinoNetwork: patch tokens (masked patches, Gram loss) need a ViT backbone, and " +
              "masked patches an iBOT head",
          );
        }
        const { cls, patches } = this.backbone.forward(batch, studentMask ? maskedRows : undefined);
        if (maskedRows && this.ibotHead) {
          const [b, n, dim] = patches.shape;
          const flat = reshape(patches, [b * n, dim]);
          const rows = gatherRows(flat, maskedRows);
          patchLogits = this.ibotHead.forward(rows);
          flat.dispose();
          rows.dispose();
        }
        if (keepPatches) firstPatches = patches;
        else patches.dispose();
        result = cls;
      } else {
        result = backboneFeatures(this.backbone, batch);
      }
      if (batch !== crops[0]) batch.dispose();
      return result;
    });
    const joined = features.length === 1 ? features[0] : concat(features, 0);
    const logits = this.head.forward(joined);
    if (joined !== features[0]) joined.dispose();
    for (const f of features.slice(1)) f.dispose();
    return { logits, firstFeatures: features[0], patchLogits, firstPatches };
  }

  /**
   * Head outputs [sum of batches, outDim] for groups of same-size crops (each [B, C, S, S]),
   * the groups concatenated along the batch in the order given.
   */
  forward(groups: Tensor[][]): Tensor {
    const features = groups.map((crops) => {
      const batch = crops.length === 1 ? crops[0] : concat(crops, 0);
      const result = backboneFeatures(this.backbone, batch);
      if (batch !== crops[0]) batch.dispose();
      return result;
    });
    const joined = features.length === 1 ? features[0] : concat(features, 0);
    if (joined !== features[0]) { for (const f of features) f.dispose(); }
    const logits = this.head.forward(joined);
    joined.dispose();
    return logits;
  }
}

/** Copies every parameter value of `source` into `target` (same architecture), on the GPU. */
export function copyWeights(target: Module, source: Module): void {
  const to = target.namedParameters();
  const from = new Map(source.namedParameters());
  for (const [name, value] of to) {
    const origin = from.get(name);
    if (!origin || origin.size !== value.size) {
      throw new Error(`copyWeights: "${name}" missing or of another size in the source`);
    }
    gpu().copy(origin.buffer, 0, value.buffer, 0, value.byteLength);
  }
}
