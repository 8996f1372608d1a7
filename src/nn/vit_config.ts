/**
 * The configuration of a Vision Transformer (src/nn/vit.ts): sizes, patch, registers, LayerScale,
 * feed-forward kind, norms, and how positions enter: a learned embedding, interpolated as the
 * official DINO / DINOv2 variants do, or DINOv3's axial RoPE.
 * @module
 */
import type { RopeAugmentation } from "./rope.ts";

/** How the position embedding is resized to another grid (the official variants). */
export type PositionInterpolation =
  /** DINO and DINOv2: bicubic with scale_factor (grid + 0.1) / M. */
  | "scale-offset"
  /** DINOv2 with registers: bicubic to the grid size with antialiasing. */
  | "size-antialias"
  /** Bicubic to the grid size (Hugging Face's newer code). */
  | "size";

/** Configuration of a Vision Transformer. */
export interface VitConfig {
  /** Image size the position embedding was made for (its grid is imageSize / patchSize). */
  imageSize: number;
  /** Patch size (8, 14 or 16 in the official models). */
  patchSize: number;
  /** Input channels. */
  inChannels: number;
  /** Token width. */
  embedDim: number;
  /** Number of blocks. */
  depth: number;
  /** Attention heads. */
  heads: number;
  /** MLP width as a multiple of embedDim. */
  mlpRatio: number;
  /**
   * Exact hidden width of the feed-forward (for SwiGLU, of `w3`'s input), overriding `mlpRatio`;
   * set when loading checkpoints whose widths are read from the weights.
   */
  feedForwardHidden?: number;
  /** Bias on the qkv projection. */
  qkvBias: boolean;
  /** LayerScale initial value, or undefined for no LayerScale (DINO). */
  layerScaleInit: number | undefined;
  /** Register tokens (DINOv2 with registers: 4). */
  registers: number;
  /** Feed-forward kind: "mlp" (GELU MLP) or "swiglu" (DINOv2 giant). */
  feedForward: "mlp" | "swiglu";
  /** Stochastic depth rate of the last block (linearly increasing from 0), or of every block. */
  dropPathRate: number;
  /**
   * Stochastic depth over the blocks: "linear" (DINO: 0 at the first block up to `dropPathRate`)
   * or "uniform" (DINOv2 `drop_path_uniform`: `dropPathRate` at every block).
   */
  dropPathSchedule: "linear" | "uniform";
  /**
   * DINOv2's stochastic depth for blocks whose rate is above 0.1: the branch runs on a random
   * subset of the batch and its output is scaled up, instead of masking per sample (DINO).
   */
  dropPathBatchSubset: boolean;
  /**
   * Initialisation of the CLS and register tokens: "trunc-normal" (DINO: truncated normal, std
   * 0.02) or "small-normal" (DINOv2: normal, std 1e-6).
   */
  tokenInit: "trunc-normal" | "small-normal";
  /** LayerNorm epsilon (1e-6 in DINO and DINOv2; 1e-5 in DINOv3; 1e-12 in HF ViTModel). */
  eps: number;
  /**
   * How positions enter: "learned", an embedding added to the tokens before the blocks (DINO,
   * DINOv2), or "rope", DINOv3's axial rotary embedding of the patch tokens' queries and keys in
   * every block (no parameters; any grid, no interpolation).
   */
  positionEmbedding: "learned" | "rope";
  /** Learned position embedding: its interpolation variant for other grids. */
  interpolation: PositionInterpolation;
  /** RoPE: base of the periods `base ** (2 i / (headSize / 2))`, i < headSize / 4 (DINOv3: 100). */
  ropeBase: number;
  /**
   * RoPE: the headSize / 4 periods as a checkpoint stores them (DINOv3's are bf16 values), used
   * instead of those computed from `ropeBase`.
   */
  ropePeriods?: number[];
  /**
   * RoPE: DINOv3's training-time perturbation of the patch coordinates (shift, jitter, rescale;
   * the 7B recipe rescales by up to 2); applied only in training mode, drawn per forward pass.
   */
  ropeAugmentation?: RopeAugmentation;
  /** Whether the model has a mask token (DINOv2 / iBOT). */
  maskToken: boolean;
  /** Seed of the initialisation. */
  seed: number;
}

/** Widths, depths and heads of the named sizes. */
export const VIT_SIZES = {
  tiny: { embedDim: 192, depth: 12, heads: 3 },
  small: { embedDim: 384, depth: 12, heads: 6 },
  base: { embedDim: 768, depth: 12, heads: 12 },
  large: { embedDim: 1024, depth: 24, heads: 16 },
  giant: { embedDim: 1536, depth: 40, heads: 24 },
} as const;

/** A configuration with DINO's defaults, overridden by `options`. */
export function vitConfig(options: Partial<VitConfig> = {}): VitConfig {
  return {
    imageSize: 224,
    patchSize: 16,
    inChannels: 3,
    ...VIT_SIZES.small,
    mlpRatio: 4,
    qkvBias: true,
    layerScaleInit: undefined,
    registers: 0,
    feedForward: "mlp",
    dropPathRate: 0,
    dropPathSchedule: "linear",
    dropPathBatchSubset: false,
    tokenInit: "trunc-normal",
    eps: 1e-6,
    positionEmbedding: "learned",
    interpolation: "scale-offset",
    ropeBase: 100,
    maskToken: false,
    seed: 0,
    ...options,
  };
}
