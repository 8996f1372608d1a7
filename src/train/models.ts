/**
 * The networks DINO trains: a backbone (ViT or MLP-Mixer) with a DINO head, built from a training
 * configuration, plus copying one set of weights into another (the teacher starts as the student).
 * @module
 */
import { gpu } from "../gpu/device.ts";
import { DinoHead } from "../nn/dino_head.ts";
import { MlpMixer } from "../nn/mixer.ts";
import { Module } from "../nn/module.ts";
import { VisionTransformer } from "../nn/vit.ts";
import { concat } from "../tensor/ops/shape.ts";
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

/** Builds the backbone a configuration describes (`dropPath` false for the teacher). */
export function buildBackbone(config: DinoTrainConfig, dropPath: boolean, channels = 3): Backbone {
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
    dropPathRate: dropPath ? config.dropPathRate : 0,
    seed: config.seed,
  });
}

/** Backbone + DINO head, as DINO's MultiCropWrapper: crops of one size go through together. */
export class DinoNetwork extends Module {
  /** The backbone. */
  readonly backbone: Backbone;
  /** The projection head. */
  readonly head: DinoHead;

  /** Builds the network of `config`. */
  constructor(config: DinoTrainConfig, dropPath: boolean) {
    super();
    this.backbone = this.child("backbone", buildBackbone(config, dropPath));
    this.head = this.child(
      "head",
      new DinoHead({
        inDim: config.embedDim,
        outDim: config.outDim,
        hiddenDim: config.headHidden,
        bottleneckDim: config.headBottleneck,
        layers: config.headLayers,
        normLastLayer: config.normLastLayer,
        seed: config.seed + 1,
      }),
    );
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
