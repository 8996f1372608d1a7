/**
 * Vision Transformer as in DINO and DINOv2: patch embedding, CLS token, learned position embedding
 * (interpolated exactly as the official code does), optional register tokens, LayerScale and SwiGLU,
 * stochastic depth. Parameter names match the official checkpoints (`blocks.0.attn.qkv.weight`).
 * @module
 */
import { ShapeError } from "../gpu/errors.ts";
import { add } from "../ops/elementwise/forward.ts";
import { resizeBicubic } from "../ops/image/forward.ts";
import { concat, permute, reshape, slice } from "../ops/shape/forward.ts";
import { gatherRows, scatterRows } from "../ops/shape/rows.ts";
import { Random, truncatedNormal } from "../tensor/random.ts";
import { constantTensor, formatShape, type Tensor, tidy, zeros } from "../tensor/tensor.ts";
import { PatchEmbed } from "./patch_embed.ts";
import {
  Attention,
  dropPath,
  LayerNorm,
  LayerScale,
  Mlp,
  runBlocks,
  SwiGLUFeedForward,
  swigluHiddenFeatures,
} from "./layers.ts";
import { Module } from "./module.ts";

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
  /** Stochastic depth rate of the last block (linearly increasing from 0). */
  dropPathRate: number;
  /** LayerNorm epsilon (1e-6 in DINO and DINOv2; 1e-12 in Hugging Face ViTModel). */
  eps: number;
  /** Position embedding interpolation variant. */
  interpolation: PositionInterpolation;
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
    eps: 1e-6,
    interpolation: "scale-offset",
    maskToken: false,
    seed: 0,
    ...options,
  };
}

/** One transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)), with LayerScale if set. */
export class Block extends Module {
  /** First norm. */
  readonly norm1: LayerNorm;
  /** Self-attention. */
  readonly attn: Attention;
  /** Second norm. */
  readonly norm2: LayerNorm;
  /** Feed-forward. */
  readonly mlp: Mlp | SwiGLUFeedForward;
  /** LayerScale after attention (DINOv2). */
  readonly ls1: LayerScale | undefined;
  /** LayerScale after the feed-forward (DINOv2). */
  readonly ls2: LayerScale | undefined;

  /** Creates the block. */
  constructor(
    config: VitConfig,
    readonly dropPathRate: number,
    random: Random,
    private readonly dropRandom: Random,
  ) {
    super();
    const dim = config.embedDim;
    this.norm1 = this.child("norm1", new LayerNorm(dim, config.eps));
    this.attn = this.child("attn", new Attention(dim, config.heads, random, config.qkvBias));
    this.ls1 = config.layerScaleInit === undefined
      ? undefined
      : this.child("ls1", new LayerScale(dim, config.layerScaleInit));
    this.norm2 = this.child("norm2", new LayerNorm(dim, config.eps));
    const hidden = Math.floor(dim * config.mlpRatio);
    this.mlp = this.child(
      "mlp",
      config.feedForward === "swiglu"
        ? new SwiGLUFeedForward(
          dim,
          config.feedForwardHidden ?? swigluHiddenFeatures(hidden),
          random,
        )
        : new Mlp(dim, config.feedForwardHidden ?? hidden, random),
    );
    this.ls2 = config.layerScaleInit === undefined
      ? undefined
      : this.child("ls2", new LayerScale(dim, config.layerScaleInit));
  }

  /** Applies the block to tokens [B, N, dim]. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const attended = this.#residual(x, (n, r) => this.attn.forward(n, r), this.norm1, this.ls1);
      return this.#residual(attended, (n, r) => this.mlp.forward(n, r), this.norm2, this.ls2);
    });
  }

  #residual(
    x: Tensor,
    branch: (normed: Tensor, residual?: Tensor) => Tensor,
    norm: LayerNorm,
    scale: LayerScale | undefined,
  ): Tensor {
    const normed = norm.forward(x);
    const stochastic = this.training && this.dropPathRate > 0;
    // residual added inside the output projection's kernel
    if (!scale && !stochastic) return branch(normed, x);
    const raw = branch(normed);
    const scaled = scale ? scale.forward(raw) : raw;
    return add(x, dropPath(scaled, this.dropPathRate, this.training, this.dropRandom));
  }
}

/** What a forward pass returns. */
export interface VitOutput {
  /** CLS token after the final norm [B, dim]. */
  cls: Tensor;
  /** Patch tokens after the final norm [B, gridH * gridW, dim]. */
  patches: Tensor;
  /** Patch grid height and width. */
  grid: [number, number];
}

/** The Vision Transformer backbone. */
export class VisionTransformer extends Module {
  /** The configuration. */
  readonly config: VitConfig;
  /** Patch embedding. */
  readonly patchEmbed: PatchEmbed;
  /** The blocks. */
  readonly blocks: Block[];
  /** Final norm. */
  readonly norm: LayerNorm;
  /** The generator of stochastic depth (its state goes into training checkpoints). */
  readonly dropRandom: Random;

  /** Creates the model with DINO's initialisation (truncated normal 0.02, zero biases). */
  constructor(options: Partial<VitConfig> = {}) {
    super();
    const config = this.config = vitConfig(options);
    if (config.embedDim % config.heads !== 0) {
      throw new ShapeError(
        `VisionTransformer: embedDim ${config.embedDim} is not a multiple of heads ${config.heads}`,
      );
    }
    const random = new Random(config.seed);
    const dropRandom = this.dropRandom = new Random(config.seed ^ 0x5bd1e995);
    const grid = Math.floor(config.imageSize / config.patchSize);
    this.parameter("cls_token", truncatedNormal([1, 1, config.embedDim], random, 0.02));
    this.parameter(
      "pos_embed",
      truncatedNormal([1, 1 + grid * grid, config.embedDim], random, 0.02),
    );
    if (config.registers > 0) {
      this.parameter(
        "register_tokens",
        truncatedNormal([1, config.registers, config.embedDim], random, 0.02),
      );
    }
    if (config.maskToken) this.parameter("mask_token", zeros([1, config.embedDim]));
    this.patchEmbed = this.child(
      "patch_embed",
      new PatchEmbed(config.patchSize, config.inChannels, config.embedDim, random),
    );
    this.blocks = Array.from({ length: config.depth }, (_, index) => {
      const rate = config.depth > 1 ? config.dropPathRate * index / (config.depth - 1) : 0;
      return this.child(`blocks.${index}`, new Block(config, rate, random, dropRandom));
    });
    this.norm = this.child("norm", new LayerNorm(config.embedDim, config.eps));
  }

  /** Side of the square grid the stored position embedding covers. */
  get positionGrid(): number {
    return Math.round(Math.sqrt(this.param("pos_embed").shape[1] - 1));
  }

  /**
   * The position embedding for a `gridH` x `gridW` patch grid [1, 1 + gridH * gridW, dim], resized
   * as the official code does; the stored one when the grid already matches.
   */
  positionEmbedding(gridH: number, gridW: number): Tensor {
    const stored = this.param("pos_embed");
    const side = this.positionGrid;
    const dim = this.config.embedDim;
    if (gridH === side && gridW === side) return stored;
    return tidy(() => {
      const classPosition = slice(stored, 1, 0, 1);
      const patchPosition = slice(stored, 1, 1, 1 + side * side);
      const channelsFirst = permute(reshape(patchPosition, [1, side, side, dim]), [0, 3, 1, 2]);
      const resized = this.config.interpolation === "scale-offset"
        ? resizeBicubic(channelsFirst, {
          scaleFactor: [(gridH + 0.1) / side, (gridW + 0.1) / side],
        })
        : resizeBicubic(channelsFirst, {
          size: [gridH, gridW],
          antialias: this.config.interpolation === "size-antialias",
        });
      if (resized.shape[2] !== gridH || resized.shape[3] !== gridW) {
        throw new ShapeError(
          `position embedding: resized to ${
            formatShape(resized.shape)
          }, wanted grid ${gridH}x${gridW}`,
        );
      }
      const flat = reshape(permute(resized, [0, 2, 3, 1]), [1, gridH * gridW, dim]);
      return concat([classPosition, flat], 1);
    });
  }

  /**
   * Tokens entering the first block [B, 1 + registers + patches, dim]: patch embedding, optional
   * mask token at the masked patches (`maskedPatches`: i32 indices into the [B * patches] rows),
   * CLS token, position embedding, then register tokens after the CLS token.
   */
  prepareTokens(
    images: Tensor,
    maskedPatches?: Tensor,
  ): { tokens: Tensor; grid: [number, number] } {
    const [batch, , height, width] = images.shape;
    const patch = this.config.patchSize;
    if (height < patch || width < patch) {
      throw new ShapeError(
        `VisionTransformer: image ${height}x${width} is smaller than one ${patch}x${patch} patch`,
      );
    }
    const grid: [number, number] = [Math.floor(height / patch), Math.floor(width / patch)];
    const count = grid[0] * grid[1];
    const dim = this.config.embedDim;
    const tokens = tidy(() => {
      let patches = this.patchEmbed.forward(images);
      if (maskedPatches) {
        const flat = reshape(patches, [batch * count, dim]);
        const maskTokens = repeatRows(this.param("mask_token"), maskedPatches.size);
        patches = reshape(scatterRows(flat, maskedPatches, maskTokens), [batch, count, dim]);
      }
      const cls = reshape(repeatRows(reshape(this.param("cls_token"), [1, dim]), batch), [
        batch,
        1,
        dim,
      ]);
      const withPosition = add(concat([cls, patches], 1), this.positionEmbedding(...grid));
      const registers = this.config.registers;
      if (registers === 0) return withPosition;
      // register tokens go between CLS and the patches, after the position embedding
      const registerTokens = reshape(
        gatherRows(
          reshape(this.param("register_tokens"), [registers, dim]),
          tiledIndices(batch, registers),
        ),
        [batch, registers, dim],
      );
      const head = slice(withPosition, 1, 0, 1);
      const tail = slice(withPosition, 1, 1, 1 + count);
      return concat([head, registerTokens, tail], 1);
    });
    return { tokens, grid };
  }

  /** Runs the blocks; returns the final-norm CLS and patch tokens. */
  forward(images: Tensor, maskedPatches?: Tensor): VitOutput {
    const { tokens, grid } = this.prepareTokens(images, maskedPatches);
    return tidy(() => {
      using x = runBlocks(this.blocks, tokens);
      const normed = this.norm.forward(x);
      const cls = reshape(slice(normed, 1, 0, 1), [normed.shape[0], this.config.embedDim]);
      const patches = slice(normed, 1, 1 + this.config.registers, normed.shape[1]);
      return { cls, patches, grid };
    });
  }

  /** Outputs of the last `count` blocks after the final norm, each [B, N, dim] (linear probe). */
  intermediateLayers(images: Tensor, count: number): Tensor[] {
    const outputs: Tensor[] = [];
    const first = this.blocks.length - count;
    const last = runBlocks(this.blocks, this.prepareTokens(images).tokens, (x, index) => {
      if (index >= first) outputs.push(this.norm.forward(x));
    });
    last.dispose();
    return outputs;
  }

  /** Attention probabilities of the last block [B, heads, N, N] (CLS row: attention maps). */
  lastSelfAttention(images: Tensor): Tensor {
    const last = this.blocks[this.blocks.length - 1];
    const { tokens } = this.prepareTokens(images);
    return tidy(() => {
      using x = runBlocks(this.blocks.slice(0, -1), tokens);
      return last.attn.probabilities(last.norm1.forward(x));
    });
  }
}

/** `rows` [1, dim] repeated `count` times [count, dim], differentiable (a gather of row 0). */
function repeatRows(rows: Tensor, count: number): Tensor {
  using indices = zeroIndices(count);
  return gatherRows(rows, indices);
}

function zeroIndices(count: number): Tensor {
  return constantTensor(new Int32Array(count), [count], "i32");
}

function tiledIndices(batch: number, registers: number): Tensor {
  return constantTensor(
    Int32Array.from({ length: batch * registers }, (_, i) => i % registers),
    [batch * registers],
    "i32",
  );
}
