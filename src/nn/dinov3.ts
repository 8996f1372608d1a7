/**
 * DINOv3's Vision Transformers (facebookresearch/dinov3, `dinov3/hub/backbones.py`) as
 * configurations of the ViT in src/nn/vit.ts: patch 16, 4 storage tokens (the ViT's registers),
 * no learned position embedding but axial RoPE (base 100) on the patch tokens, LayerScale,
 * LayerNorm eps 1e-5, a GELU MLP (S, B, L) or SwiGLU (S+, L+, H+, 7B) feed-forward, a mask token.
 * The qkv bias mask of the official checkpoints is applied when loading (src/io/pretrained/).
 * @module
 */
import { type VitConfig, vitConfig } from "./vit_config.ts";

/** One of the official DINOv3 ViT sizes. */
export interface Dinov3Size {
  /** Token width. */
  embedDim: number;
  /** Blocks. */
  depth: number;
  /** Attention heads (head size 64, 128 for 7B). */
  heads: number;
  /** Feed-forward width over the token width (before SwiGLU's 2/3). */
  ffnRatio: number;
  /** "mlp" (GELU) or "swiglu". */
  feedForward: "mlp" | "swiglu";
  /** SwiGLU hidden width rounded up to a multiple of this (8; 64 for 7B). */
  swigluAlign: number;
  /** Bias on the qkv projection (all but 7B). */
  qkvBias: boolean;
}

/** The official sizes: ViT-S, S+, B, L, L+, H+ and 7B, all patch 16. */
export const DINOV3_SIZES: Readonly<Record<string, Dinov3Size>> = {
  small: size(384, 12, 6, 4, "mlp"),
  "small-plus": size(384, 12, 6, 6, "swiglu"),
  base: size(768, 12, 12, 4, "mlp"),
  large: size(1024, 24, 16, 4, "mlp"),
  "large-plus": size(1024, 24, 16, 6, "swiglu"),
  "huge-plus": size(1280, 32, 20, 6, "swiglu"),
  "7b": { ...size(4096, 40, 32, 3, "swiglu"), swigluAlign: 64, qkvBias: false },
};

function size(
  embedDim: number,
  depth: number,
  heads: number,
  ffnRatio: number,
  feedForward: "mlp" | "swiglu",
): Dinov3Size {
  return { embedDim, depth, heads, ffnRatio, feedForward, swigluAlign: 8, qkvBias: true };
}

/**
 * DINOv3's SwiGLU hidden width for token width `dim` and ratio `ratio`: d = int(int(dim * ratio)
 * * 2 / 3), rounded up to a multiple of `align`.
 */
export function dinov3SwigluHidden(dim: number, ratio: number, align = 8): number {
  const d = Math.floor(Math.floor(dim * ratio) * 2 / 3);
  return Math.ceil(d / align) * align;
}

/**
 * A DINOv3 ViT configuration of the named size (default "small"), overridden by `overrides`:
 * patch 16, 4 storage tokens, RoPE base 100, LayerScale 1e-5, LayerNorm eps 1e-5, mask token.
 */
export function dinov3Config(name = "small", overrides: Partial<VitConfig> = {}): VitConfig {
  const chosen = DINOV3_SIZES[name];
  if (!chosen) {
    throw new RangeError(
      `dinov3Config: unknown size "${name}" (sizes: ${Object.keys(DINOV3_SIZES).join(", ")})`,
    );
  }
  const { embedDim, depth, heads, ffnRatio, feedForward, swigluAlign, qkvBias } = chosen;
  return vitConfig({
    imageSize: 224,
    patchSize: 16,
    embedDim,
    depth,
    heads,
    mlpRatio: ffnRatio,
    feedForwardHidden: feedForward === "swiglu"
      ? dinov3SwigluHidden(embedDim, ffnRatio, swigluAlign)
      : Math.floor(embedDim * ffnRatio),
    feedForward,
    qkvBias,
    layerScaleInit: 1e-5,
    registers: 4,
    eps: 1e-5,
    positionEmbedding: "rope",
    ropeBase: 100,
    maskToken: true,
    ...overrides,
  });
}
