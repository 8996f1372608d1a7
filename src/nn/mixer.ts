/**
 * MLP-Mixer (Tolstikhin et al.; timm's `mlp_mixer.py` names): a per-patch linear stem, blocks of
 * LayerNorm -> token-mixing MLP (across patches, shared over channels) + skip, LayerNorm ->
 * channel-mixing MLP + skip, a final norm, mean pooling and an optional linear head.
 * @module
 */
import { ShapeError } from "../gpu/errors.ts";
import { mean } from "../ops/reduction/forward.ts";
import { reshape, transpose } from "../ops/shape/forward.ts";
import { gatherRows } from "../ops/shape/rows.ts";
import { Random } from "../tensor/random.ts";
import { constantTensor, formatShape, type Tensor, tidy } from "../tensor/tensor.ts";
import { LayerNorm, Linear, Mlp, runBlocks } from "./layers.ts";
import { Module } from "./module.ts";
import { ConvProjection } from "./vit_block.ts";

/** Configuration of an MLP-Mixer. */
export interface MixerConfig {
  /** Image size (tokens = (imageSize / patchSize)^2). */
  imageSize: number;
  /** Patch size. */
  patchSize: number;
  /** Input channels. */
  inChannels: number;
  /** Channel width. */
  embedDim: number;
  /** Number of blocks. */
  depth: number;
  /** Hidden width of the token-mixing MLP. */
  tokenHidden: number;
  /** Hidden width of the channel-mixing MLP. */
  channelHidden: number;
  /** Classes of the linear head; 0 for none. */
  classes: number;
  /** LayerNorm epsilon (timm: 1e-6). */
  eps: number;
  /** Seed of the initialisation. */
  seed: number;
}

/** The paper's sizes (patch size in the name). */
export const MIXER_SIZES = {
  "S/32": { patchSize: 32, embedDim: 512, depth: 8, tokenHidden: 256, channelHidden: 2048 },
  "S/16": { patchSize: 16, embedDim: 512, depth: 8, tokenHidden: 256, channelHidden: 2048 },
  "B/32": { patchSize: 32, embedDim: 768, depth: 12, tokenHidden: 384, channelHidden: 3072 },
  "B/16": { patchSize: 16, embedDim: 768, depth: 12, tokenHidden: 384, channelHidden: 3072 },
  "L/16": { patchSize: 16, embedDim: 1024, depth: 24, tokenHidden: 512, channelHidden: 4096 },
} as const;

/** A configuration with Mixer-S/16 at 224 px, overridden by `options`. */
export function mixerConfig(options: Partial<MixerConfig> = {}): MixerConfig {
  return {
    imageSize: 224,
    inChannels: 3,
    ...MIXER_SIZES["S/16"],
    classes: 0,
    eps: 1e-6,
    seed: 0,
    ...options,
  };
}

/** One Mixer block. */
export class MixerBlock extends Module {
  /** Norm before token mixing. */
  readonly norm1: LayerNorm;
  /** Token-mixing MLP (over the patch axis). */
  mlpTokens: Mlp;
  /** Norm before channel mixing. */
  readonly norm2: LayerNorm;
  /** Channel-mixing MLP. */
  readonly mlpChannels: Mlp;
  /** Creates the block for `tokens` patches. */
  constructor(public tokens: number, config: MixerConfig, random: Random) {
    super();
    this.norm1 = this.child("norm1", new LayerNorm(config.embedDim, config.eps));
    this.mlpTokens = this.child("mlp_tokens", new Mlp(tokens, config.tokenHidden, random));
    this.norm2 = this.child("norm2", new LayerNorm(config.embedDim, config.eps));
    this.mlpChannels = this.child(
      "mlp_channels",
      new Mlp(config.embedDim, config.channelHidden, random),
    );
  }
  /**
   * Replaces the token-mixing MLP by `mlp` over `tokens` tokens (the resolution curriculum grows
   * it block-diagonally); the old one is released.
   */
  setTokenMixing(mlp: Mlp, tokens: number): void {
    const old = this.mlpTokens;
    this.mlpTokens = this.child("mlp_tokens", mlp);
    this.tokens = tokens;
    old.dispose();
  }

  /** Applies the block to tokens [B, S, dim]. */
  forward(x: Tensor): Tensor {
    if (x.shape[1] !== this.tokens) {
      throw new ShapeError(
        `MixerBlock: built for ${this.tokens} tokens, got ${formatShape(x.shape)}`,
      );
    }
    return tidy(() => {
      const byChannel = transpose(this.norm1.forward(x), 1, 2); // [B, dim, S]
      const mixed = this.mlpTokens.forward(byChannel, transpose(x, 1, 2)); // [B, dim, S]
      const afterTokens = transpose(mixed, 1, 2);
      return this.mlpChannels.forward(this.norm2.forward(afterTokens), afterTokens);
    });
  }
}

/** What a Mixer forward pass returns. */
export interface MixerOutput {
  /** Mean of the final-norm tokens [B, dim] (the features). */
  pooled: Tensor;
  /** Final-norm tokens [B, S, dim]. */
  tokens: Tensor;
  /** Patch grid height and width. */
  grid: [number, number];
}

/** The MLP-Mixer backbone (with an optional classification head). */
export class MlpMixer extends Module {
  /** The configuration. */
  readonly config: MixerConfig;
  /** The per-patch linear stem (`stem.proj`). */
  readonly stem: Stem;
  /** The blocks. */
  readonly blocks: MixerBlock[];
  /** Final norm. */
  readonly norm: LayerNorm;
  /** Linear head, when `classes` > 0. */
  readonly head: Linear | undefined;
  /**
   * Grid sides the token mixing went through (resolution curriculum), first = the original; with
   * more than one, tokens are reordered after the stem by `blockTokenOrder` (below).
   */
  tokenGrids: number[];
  #tokenOrder: Int32Array | undefined;
  readonly #orderIndices = new Map<number, Tensor>();

  /** Creates the model. */
  constructor(options: Partial<MixerConfig> = {}) {
    super();
    const config = this.config = mixerConfig(options);
    const random = new Random(config.seed);
    const grid = Math.floor(config.imageSize / config.patchSize);
    this.stem = this.child("stem", new Stem(config, random));
    this.blocks = Array.from(
      { length: config.depth },
      (_, index) => this.child(`blocks.${index}`, new MixerBlock(grid * grid, config, random)),
    );
    this.norm = this.child("norm", new LayerNorm(config.embedDim, config.eps));
    this.head = config.classes > 0
      ? this.child("head", new Linear(config.embedDim, config.classes, random))
      : undefined;
    this.tokenGrids = [grid];
  }

  /**
   * Sets the grids the token mixing was grown through and `order` (slot -> row-major position in
   * the last grid) that gathers the tokens into contiguous blocks after the stem.
   */
  setTokenOrder(grids: number[], order: Int32Array): void {
    this.tokenGrids = [...grids];
    this.#tokenOrder = grids.length > 1 ? order : undefined;
    for (const indices of this.#orderIndices.values()) indices.dispose();
    this.#orderIndices.clear();
  }

  #reorder(x: Tensor): Tensor {
    const order = this.#tokenOrder;
    if (!order) return x;
    const [batch, tokens, dim] = x.shape;
    if (tokens !== order.length) {
      throw new ShapeError(
        `MlpMixer: grown for ${order.length} tokens, got ${formatShape(x.shape)}`,
      );
    }
    let indices = this.#orderIndices.get(batch);
    if (!indices) {
      indices = constantTensor(
        Int32Array.from(
          { length: batch * tokens },
          (_, i) => Math.floor(i / tokens) * tokens + order[i % tokens],
        ),
        [batch * tokens],
        "i32",
      );
      this.#orderIndices.set(batch, indices);
    }
    return tidy(() =>
      reshape(gatherRows(reshape(x, [batch * tokens, dim]), indices), [batch, tokens, dim])
    );
  }

  /** Releases the parameters and the cached token-order indices. */
  override dispose(): void {
    for (const indices of this.#orderIndices.values()) indices.dispose();
    this.#orderIndices.clear();
    super.dispose();
  }

  /** Runs the backbone on images [B, C, H, W]. */
  forward(images: Tensor): MixerOutput {
    const patch = this.config.patchSize;
    const [, , height, width] = images.shape;
    if (height < patch || width < patch) {
      throw new ShapeError(
        `MlpMixer: image ${height}x${width} is smaller than one ${patch}x${patch} patch`,
      );
    }
    const stemmed = this.stem.proj.forward(images);
    const ordered = this.#reorder(stemmed);
    if (ordered !== stemmed) stemmed.dispose();
    using x = runBlocks(this.blocks, ordered);
    const tokens = this.norm.forward(x);
    const pooled = mean(tokens, 1);
    return { pooled, tokens, grid: [Math.floor(height / patch), Math.floor(width / patch)] };
  }
}

/** The stem: one patch convolution named `proj`. */
export class Stem extends Module {
  /** The convolution. */
  readonly proj: ConvProjection;
  /** Creates the stem. */
  constructor(config: MixerConfig, random: Random) {
    super();
    this.proj = this.child(
      "proj",
      new ConvProjection(config.patchSize, config.inChannels, config.embedDim, random),
    );
  }
}

/**
 * Token order of a Mixer grown through the grid sides `grids` (first = the original): entry t is
 * the row-major position in the last grid of the token placed at slot t (the layout is explained
 * in src/train/curriculum.ts, which grows Mixers; `setTokenOrder` takes this order).
 */
export function blockTokenOrder(grids: readonly number[]): Int32Array {
  let order = Int32Array.from({ length: grids[0] * grids[0] }, (_, i) => i);
  for (let level = 1; level < grids.length; level++) {
    const inner = grids[level - 1];
    const outer = grids[level];
    const r = outer / inner;
    if (!Number.isInteger(r) || r < 1) {
      throw new RangeError(`blockTokenOrder: grid ${outer} is not a whole multiple of ${inner}`);
    }
    const next = new Int32Array(outer * outer);
    let slot = 0;
    for (let dy = 0; dy < r; dy++) {
      for (let dx = 0; dx < r; dx++) {
        for (const position of order) {
          const y = Math.floor(position / inner);
          const x = position % inner;
          next[slot++] = (r * y + dy) * outer + (r * x + dx);
        }
      }
    }
    order = next;
  }
  return order;
}
