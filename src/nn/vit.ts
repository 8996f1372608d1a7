/**
 * Vision Transformer as in DINO, DINOv2 and DINOv3: patch embedding, CLS token, optional register
 * (DINOv3: storage) tokens between the CLS token and the patches, LayerScale and SwiGLU, stochastic
 * depth; positions from a learned embedding (interpolated exactly as the official code does) or,
 * for DINOv3, from axial RoPE on the patch tokens' queries and keys in every block (src/nn/rope.ts,
 * src/ops/rope/), which takes any grid without interpolation. Parameter names match the official
 * checkpoints (`blocks.0.attn.qkv.weight`); DINOv3's own names are mapped onto them when loading
 * (src/io/pretrained/dinov3.ts).
 * @module
 */
import { gpu } from "../gpu/device.ts";
import { ShapeError } from "../gpu/errors.ts";
import { add } from "../ops/elementwise/forward.ts";
import { resizeBicubic } from "../ops/image/forward.ts";
import { concat, permute, reshape, slice } from "../ops/shape/forward.ts";
import { gatherRows, scatterRows } from "../ops/shape/rows.ts";
import { Random, truncatedNormal } from "../tensor/random.ts";
import { noGrad } from "../tensor/tape.ts";
import { constantTensor, formatShape, Tensor, tensor, tidy, zeros } from "../tensor/tensor.ts";
import { LayerNorm, runBlocks } from "./layers.ts";
import { Module } from "./module.ts";
import { augmentsRope, drawRopeTransform, ropePeriods, ropeTable } from "./rope.ts";
import { Block, PatchEmbed } from "./vit_block.ts";
import { type VitConfig, vitConfig } from "./vit_config.ts";

export { Block, ConvProjection, PatchEmbed } from "./vit_block.ts";
export { type PositionInterpolation, VIT_SIZES, type VitConfig, vitConfig } from "./vit_config.ts";

/**
 * Stochastic depth rate of block `index` (0-based): `dropPathRate` at every block for the
 * "uniform" schedule (DINOv2), else rising linearly from 0 at the first block to `dropPathRate` at
 * the last (DINO's `torch.linspace(0, rate, depth)`).
 */
export function blockDropPathRate(config: VitConfig, index: number): number {
  if (config.dropPathSchedule === "uniform") return config.dropPathRate;
  return config.depth > 1 ? config.dropPathRate * index / (config.depth - 1) : 0;
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

/** Every output token after the final norm (DINOv3's `forward_features`). */
export interface VitFeatures extends VitOutput {
  /** Register (DINOv3: storage) tokens after the final norm [B, registers, dim]; none without. */
  registers: Tensor | undefined;
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
  /** The generator of the RoPE coordinate augmentation (training mode; its state is checkpointed). */
  readonly ropeRandom: Random;
  /** RoPE periods (headSize / 4), for `positionEmbedding: "rope"`. */
  readonly ropePeriods: Float32Array | undefined;
  readonly #ropeTables = new Map<string, Float32Array>();

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
    this.ropeRandom = new Random(config.seed ^ 0x20be0c7);
    const grid = Math.floor(config.imageSize / config.patchSize);
    const token = (shape: number[]) =>
      config.tokenInit === "small-normal"
        ? tensor(
          Float32Array.from({ length: shape[1] * shape[2] }, () => 1e-6 * random.normal()),
          shape,
        )
        : truncatedNormal(shape, random, 0.02);
    this.parameter("cls_token", token([1, 1, config.embedDim]));
    if (config.positionEmbedding === "rope") {
      this.ropePeriods = checkedPeriods(config);
    } else {
      this.parameter(
        "pos_embed",
        truncatedNormal([1, 1 + grid * grid, config.embedDim], random, 0.02),
      );
    }
    if (config.registers > 0) {
      this.parameter(
        "register_tokens",
        token([1, config.registers, config.embedDim]),
      );
    }
    if (config.maskToken) this.parameter("mask_token", zeros([1, config.embedDim]));
    this.patchEmbed = this.child(
      "patch_embed",
      new PatchEmbed(config.patchSize, config.inChannels, config.embedDim, random),
    );
    this.blocks = Array.from({ length: config.depth }, (_, index) => {
      const rate = blockDropPathRate(config, index);
      return this.child(`blocks.${index}`, new Block(config, rate, random, dropRandom));
    });
    this.norm = this.child("norm", new LayerNorm(config.embedDim, config.eps));
  }

  /** Side of the square grid the stored position embedding covers (learned embeddings only). */
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
   * Stores the position embedding resized once to a `grid` x `grid` patch grid (as
   * `positionEmbedding` resizes it on the fly): the high-resolution phase's interpolation. The
   * parameter is replaced (optimizers over the old one must be rebuilt); nothing happens for RoPE
   * or when the grid already matches. Returns whether it changed.
   */
  resizePositionEmbedding(grid: number): boolean {
    if (this.config.positionEmbedding === "rope" || grid === this.positionGrid) return false;
    const resized = noGrad(() => this.positionEmbedding(grid, grid));
    this.replaceParameter("pos_embed", resized);
    this.config.imageSize = grid * this.config.patchSize;
    return true;
  }

  /**
   * The RoPE table [gridH * gridW, 2, headSize / 2] of a patch grid on the GPU (a constant
   * upload, see src/nn/rope.ts), or undefined for a learned position embedding.
   */
  ropeTable(gridH: number, gridW: number): Tensor | undefined {
    if (!this.ropePeriods) return undefined;
    const key = `${gridH}x${gridW}`;
    let table = this.#ropeTables.get(key);
    if (!table) {
      table = ropeTable(this.ropePeriods, gridH, gridW);
      this.#ropeTables.set(key, table);
    }
    return constantTensor(table, [gridH * gridW, 2, 2 * this.ropePeriods.length]);
  }

  /**
   * Tokens entering the first block [B, 1 + registers + patches, dim]: patch embedding, optional
   * mask token at the masked patches (`maskedPatches`: i32 indices into the [B * patches] rows),
   * CLS token, position embedding (learned), then register tokens after the CLS token.
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
    const rope = this.config.positionEmbedding === "rope";
    if (rope && (height % patch !== 0 || width % patch !== 0)) {
      throw new ShapeError(
        `VisionTransformer: a RoPE (DINOv3) model takes image sides that are multiples of the ` +
          `patch ${patch}, got height ${height} x width ${width}`,
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
      const registers = this.config.registers;
      const registerTokens = () =>
        reshape(
          gatherRows(
            reshape(this.param("register_tokens"), [registers, dim]),
            tiledIndices(batch, registers),
          ),
          [batch, registers, dim],
        );
      // DINOv3: [CLS, storage, patches], no position embedding
      if (rope) return concat(registers ? [cls, registerTokens(), patches] : [cls, patches], 1);
      const withPosition = add(concat([cls, patches], 1), this.positionEmbedding(...grid));
      if (registers === 0) return withPosition;
      // register tokens go between CLS and the patches, after the position embedding
      const head = slice(withPosition, 1, 0, 1);
      const tail = slice(withPosition, 1, 1, 1 + count);
      return concat([head, registerTokens(), tail], 1);
    });
    return { tokens, grid };
  }

  /**
   * The RoPE table of a grid with freshly drawn perturbed coordinates (`ropeAugmentation`),
   * drawn when uploaded so that a replayed step draws its own.
   */
  #augmentedRopeTable(gridH: number, gridW: number): Tensor {
    const periods = this.ropePeriods!;
    const table = Tensor.empty([gridH * gridW, 2, 2 * periods.length], "f32", "rope table");
    gpu().uploadStepInput(table.buffer, () => {
      const transform = drawRopeTransform(
        this.config.ropeAugmentation!,
        () => this.ropeRandom.next(),
      );
      return ropeTable(periods, gridH, gridW, transform);
    });
    return table;
  }

  /** Runs `blocks` on `tokens` (see `runBlocks`) with the RoPE table of `grid`, if any. */
  #runBlocks(
    blocks: readonly Block[],
    tokens: Tensor,
    grid: [number, number],
    each?: (x: Tensor, index: number) => void,
  ): Tensor {
    if (this.config.positionEmbedding !== "rope") return runBlocks(blocks, tokens, each);
    using rope = this.training && augmentsRope(this.config.ropeAugmentation)
      ? this.#augmentedRopeTable(...grid)
      : this.ropeTable(...grid)!;
    return runBlocks(
      blocks.map((block) => ({ forward: (x: Tensor) => block.forward(x, rope) })),
      tokens,
      each,
    );
  }

  /** Runs the blocks; returns the final-norm CLS and patch tokens. */
  forward(images: Tensor, maskedPatches?: Tensor): VitOutput {
    const { tokens, grid } = this.prepareTokens(images, maskedPatches);
    return tidy(() => {
      using x = this.#runBlocks(this.blocks, tokens, grid);
      const normed = this.norm.forward(x);
      const cls = reshape(slice(normed, 1, 0, 1), [normed.shape[0], this.config.embedDim]);
      const patches = slice(normed, 1, 1 + this.config.registers, normed.shape[1]);
      return { cls, patches, grid };
    });
  }

  /** Like `forward`, with the register (storage) tokens too (DINOv3's `forward_features`). */
  forwardFeatures(images: Tensor, maskedPatches?: Tensor): VitFeatures {
    const { tokens, grid } = this.prepareTokens(images, maskedPatches);
    return tidy(() => {
      using x = this.#runBlocks(this.blocks, tokens, grid);
      const normed = this.norm.forward(x);
      const registers = this.config.registers;
      const cls = reshape(slice(normed, 1, 0, 1), [normed.shape[0], this.config.embedDim]);
      const patches = slice(normed, 1, 1 + registers, normed.shape[1]);
      return {
        cls,
        registers: registers ? slice(normed, 1, 1, 1 + registers) : undefined,
        patches,
        grid,
      };
    });
  }

  /** Outputs of the last `count` blocks after the final norm, each [B, N, dim] (linear probe). */
  intermediateLayers(images: Tensor, count: number): Tensor[] {
    const outputs: Tensor[] = [];
    const first = this.blocks.length - count;
    const { tokens, grid } = this.prepareTokens(images);
    const last = this.#runBlocks(this.blocks, tokens, grid, (x, index) => {
      if (index >= first) outputs.push(this.norm.forward(x));
    });
    last.dispose();
    return outputs;
  }

  /** Attention probabilities of the last block [B, heads, N, N] (CLS row: attention maps). */
  lastSelfAttention(images: Tensor): Tensor {
    const last = this.blocks[this.blocks.length - 1];
    const { tokens, grid } = this.prepareTokens(images);
    return tidy(() => {
      using x = this.#runBlocks(this.blocks.slice(0, -1), tokens, grid);
      using rope = this.ropeTable(...grid);
      return last.attn.probabilities(last.norm1.forward(x), rope);
    });
  }
}

/** The RoPE periods of `config` (stored ones, else from the base), checked against the heads. */
function checkedPeriods(config: VitConfig): Float32Array {
  const headSize = config.embedDim / config.heads;
  if (headSize % 4 !== 0) {
    throw new ShapeError(
      `VisionTransformer: RoPE needs a head size that is a multiple of 4, got ${headSize} ` +
        `(width ${config.embedDim}, ${config.heads} heads)`,
    );
  }
  if (config.ropePeriods && config.ropePeriods.length !== headSize / 4) {
    throw new ShapeError(
      `VisionTransformer: ${config.ropePeriods.length} RoPE periods for a head size of ` +
        `${headSize} (want ${headSize / 4}: width ${config.embedDim}, ${config.heads} heads)`,
    );
  }
  return config.ropePeriods
    ? Float32Array.from(config.ropePeriods)
    : ropePeriods(headSize, config.ropeBase);
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
