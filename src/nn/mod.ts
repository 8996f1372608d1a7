/**
 * Models: ViT (DINO, DINOv2, DINOv3 with RoPE), MLP-Mixer and the DINO head, built from the layers
 * in this folder.
 * @module
 */
export { type ComputePrecision, expectShape, Module } from "./module.ts";
export {
  Attention,
  dropPath,
  LayerNorm,
  LayerScale,
  Linear,
  Mlp,
  SwiGLUFeedForward,
  swigluHiddenFeatures,
} from "./layers.ts";
export { ConvProjection, PatchEmbed } from "./vit_block.ts";
export {
  Block,
  type PositionInterpolation,
  VisionTransformer,
  VIT_SIZES,
  type VitConfig,
  vitConfig,
  type VitFeatures,
  type VitOutput,
} from "./vit.ts";
export {
  drawRopeTransform,
  type RopeAugmentation,
  type RopeCoordinateTransform,
  ropePeriods,
  ropeTable,
} from "./rope.ts";
export { DINOV3_SIZES, dinov3Config, type Dinov3Size, dinov3SwigluHidden } from "./dinov3.ts";
export {
  blockTokenOrder,
  MIXER_SIZES,
  MixerBlock,
  type MixerConfig,
  mixerConfig,
  type MixerOutput,
  MlpMixer,
  Stem,
} from "./mixer.ts";
export { DinoHead, type DinoHeadConfig, dinoHeadConfig, WeightNormLinear } from "./dino_head.ts";
