/**
 * The architecture pretrained weights describe, read from their keys and shapes (and the Hugging
 * Face config, when there is one): a ViT's patch, width, depth, heads, registers, LayerScale,
 * SwiGLU and position grid, or an MLP-Mixer's widths and token grid.
 *
 * Position-embedding interpolation per layout (see `VitConfig.interpolation`):
 * - DINO, DINOv2 (and DINO training checkpoints): "scale-offset" (bicubic, scale (grid + 0.1) / M);
 * - DINOv2 with registers: "size-antialias";
 * - timm ViT: "size-antialias" (timm's `resample_abs_pos_embed`);
 * - Hugging Face ViTModel: "size" (transformers' current `interpolate_pos_encoding`: bicubic to
 *   `size=(h, w)`, no antialias);
 * - Hugging Face Dinov2Model: "scale-offset" — transformers' Dinov2 code as released up to the 4.4x
 *   series interpolates with `scale_factor` and the +0.1 offset of the original DINOv2 code; this
 *   is the behaviour chosen (pass `interpolation` to follow another version).
 * @module
 */
import type { MixerConfig } from "../../nn/mixer.ts";
import type { PositionInterpolation, VitConfig } from "../../nn/vit.ts";
import { CheckpointError } from "../safetensors.ts";
import type { HostTensor } from "../../tensor/host.ts";
import type { CheckpointLayout } from "./layouts.ts";

function shapeOf(state: Map<string, HostTensor>, key: string): number[] | undefined {
  return state.get(key)?.shape;
}

function blockCount(state: Map<string, HostTensor>): number {
  let depth = 0;
  for (const key of state.keys()) {
    const match = /^blocks\.(\d+)\./.exec(key);
    if (match) depth = Math.max(depth, Number(match[1]) + 1);
  }
  return depth;
}

/**
 * The shape of `key` in `state`, which must have `rank` dimensions; a CheckpointError naming
 * `file` (and the first keys it has) when it is missing or of another rank.
 */
export function requireShape(
  state: Map<string, HostTensor>,
  file: string,
  key: string,
  rank: number,
): number[] {
  const shape = shapeOf(state, key);
  if (!shape) {
    const keys = [...state.keys()];
    throw new CheckpointError(
      `${file}: missing key ${key} (keys: ${keys.slice(0, 12).join(", ")}${
        keys.length > 12 ? ", ..." : ""
      })`,
    );
  }
  if (shape.length !== rank) {
    throw new CheckpointError(
      `${file}: ${key} has shape [${shape.join(", ")}], expected ${rank} dimensions`,
    );
  }
  return shape;
}

/** `config[key]` when it is a number (a Hugging Face config.json field), else undefined. */
export function numberFrom(
  config: Record<string, unknown> | undefined,
  key: string,
): number | undefined {
  const value = config?.[key];
  return typeof value === "number" ? value : undefined;
}

/**
 * Width, input channels and patch size of the patch-embedding kernel `key` of `state`, of shape
 * [width, channels, patch, patch]; a CheckpointError naming `file` (ended by `note`) when it is
 * missing, not of rank 4 or not square.
 */
export function squarePatchKernel(
  state: Map<string, HostTensor>,
  file: string,
  key: string,
  note = "",
): { embedDim: number; inChannels: number; patch: number } {
  const [embedDim, inChannels, patchH, patchW] = requireShape(state, file, key, 4);
  if (patchH !== patchW) {
    throw new CheckpointError(`${file}: ${key} has a ${patchH}x${patchW} kernel${note}`);
  }
  return { embedDim, inChannels, patch: patchH };
}

/** `heads` when it splits width `embedDim` evenly; a CheckpointError asking for --heads if not. */
export function checkedHeads(file: string, embedDim: number, heads: number): number {
  if (!Number.isInteger(heads) || heads < 1 || embedDim % heads !== 0) {
    throw new CheckpointError(
      `${file}: cannot split width ${embedDim} into heads (got ${heads}); pass --heads`,
    );
  }
  return heads;
}

/**
 * The ViT fields both checkpoint readers (this file's and dinov3.ts's) take from the weights
 * alike, given the stem, depth, heads and registers each has read: the feed-forward (SwiGLU when
 * blocks.0.mlp.w12.weight is there; its hidden width from w3's columns or fc1's rows, read with
 * `shape2`, a rank-2 shape getter), the qkv bias and the mask token; no drop path.
 */
export function vitWeightFields(
  state: Map<string, HostTensor>,
  shape2: (key: string) => number[],
  read: { embedDim: number; inChannels: number; patch: number; depth: number; heads: number },
  registers: number,
): Partial<VitConfig> {
  const swiglu = state.has("blocks.0.mlp.w12.weight");
  const [rows, columns] = shape2(swiglu ? "blocks.0.mlp.w3.weight" : "blocks.0.mlp.fc1.weight");
  const feedForwardHidden = swiglu ? columns : rows;
  return {
    patchSize: read.patch,
    inChannels: read.inChannels,
    embedDim: read.embedDim,
    depth: read.depth,
    heads: read.heads,
    mlpRatio: feedForwardHidden / read.embedDim,
    feedForwardHidden,
    qkvBias: state.has("blocks.0.attn.qkv.bias"),
    registers,
    feedForward: swiglu ? "swiglu" : "mlp",
    dropPathRate: 0,
    maskToken: state.has("mask_token"),
  };
}

/**
 * The ViT configuration a state dict with official names implies: patch from the stem kernel,
 * width from the CLS token, depth from the block count, heads from `heads`, the config or
 * width / 64; registers, LayerScale, SwiGLU, mask token and the position grid from their keys.
 */
export function inferVitConfig(
  state: Map<string, HostTensor>,
  layout: CheckpointLayout,
  options: { heads?: number; interpolation?: PositionInterpolation; file?: string } = {},
  config?: Record<string, unknown>,
): Partial<VitConfig> {
  const file = options.file ?? "checkpoint";
  const { embedDim, inChannels, patch } = squarePatchKernel(
    state,
    file,
    "patch_embed.proj.weight",
    "; only square patches",
  );
  const depth = blockCount(state);
  if (depth === 0) throw new CheckpointError(`${file}: no blocks.N.* keys`);
  const position = requireShape(state, file, "pos_embed", 3);
  const side = Math.round(Math.sqrt(position[1] - 1));
  if (side * side !== position[1] - 1 || position[2] !== embedDim) {
    throw new CheckpointError(
      `${file}: pos_embed [${position.join(", ")}] is not 1 + a square grid of width ${embedDim}`,
    );
  }
  const heads = checkedHeads(
    file,
    embedDim,
    options.heads ?? numberFrom(config, "num_attention_heads") ?? embedDim / 64,
  );
  const registers = shapeOf(state, "register_tokens")?.[1] ?? 0;
  const defaultInterpolation: PositionInterpolation = layout === "hf-vit"
    ? "size"
    : registers > 0 || layout === "timm-vit"
    ? "size-antialias"
    : "scale-offset";
  const eps = numberFrom(config, "layer_norm_eps") ?? (layout === "hf-vit" ? 1e-12 : 1e-6);
  return {
    imageSize: side * patch,
    ...vitWeightFields(
      state,
      (key) => requireShape(state, file, key, 2),
      { embedDim, inChannels, patch, depth, heads },
      registers,
    ),
    layerScaleInit: state.has("blocks.0.ls1.gamma") ? 1 : undefined,
    eps,
    interpolation: options.interpolation ?? defaultInterpolation,
  };
}

/** The Mixer configuration a timm state dict implies (widths from the first block). */
export function inferMixerConfig(
  state: Map<string, HostTensor>,
  file = "checkpoint",
): Partial<MixerConfig> {
  const { embedDim, inChannels, patch } = squarePatchKernel(state, file, "stem.proj.weight");
  const depth = blockCount(state);
  if (depth === 0) throw new CheckpointError(`${file}: no blocks.N.* keys`);
  const [tokenHidden, tokens] = requireShape(state, file, "blocks.0.mlp_tokens.fc1.weight", 2);
  const [channelHidden] = requireShape(state, file, "blocks.0.mlp_channels.fc1.weight", 2);
  const side = Math.round(Math.sqrt(tokens));
  if (side * side !== tokens) {
    throw new CheckpointError(`${file}: ${tokens} tokens is not a square grid`);
  }
  return {
    imageSize: side * patch,
    patchSize: patch,
    inChannels,
    embedDim,
    depth,
    tokenHidden,
    channelHidden,
    classes: shapeOf(state, "head.weight")?.[0] ?? 0,
    eps: 1e-6,
  };
}
