/**
 * The layers a Vision Transformer is built of beyond src/nn/layers.ts: the patch embedding (a
 * strided convolution as patchify + matmul) and the transformer block. Parameter names match the
 * official checkpoints (`patch_embed.proj.weight`, `blocks.0.attn.qkv.weight`).
 * @module
 */
import { ShapeError } from "../gpu/errors.ts";
import { gpu } from "../gpu/device.ts";
import { add, scale } from "../ops/elementwise/forward.ts";
import { patchify } from "../ops/image/forward.ts";
import { concat, reshape } from "../ops/shape/forward.ts";
import type { Random } from "../tensor/random.ts";
import { gatherRows, scatterRows } from "../ops/shape/rows.ts";
import { formatShape, Tensor, tensor, tidy, zeros } from "../tensor/tensor.ts";
import {
  Attention,
  dropPath,
  LayerNorm,
  LayerScale,
  linearAt,
  Mlp,
  SwiGLUFeedForward,
  swigluHiddenFeatures,
} from "./layers.ts";
import { Module } from "./module.ts";
import type { VitConfig } from "./vit_config.ts";
/** Patch embedding: a convolution with stride = kernel = patch, computed as patchify + matmul. */
export class PatchEmbed extends Module {
  /** The projection (`proj.weight` [dim, channels, patch, patch], `proj.bias` [dim]). */
  readonly proj: ConvProjection;
  /** Creates the layer. */
  constructor(readonly patchSize: number, inChannels: number, embedDim: number, random: Random) {
    super();
    this.proj = this.child("proj", new ConvProjection(patchSize, inChannels, embedDim, random));
  }
  /** Images [B, C, H, W] to patch tokens [B, (H/p)(W/p), dim]. */
  forward(images: Tensor): Tensor {
    return this.proj.forward(images);
  }
}

/** The weights of a patch convolution, stored in PyTorch's conv layout. */
export class ConvProjection extends Module {
  /** Creates the layer with PyTorch's Conv2d default initialisation (DINO leaves it as is). */
  constructor(
    readonly patchSize: number,
    readonly inChannels: number,
    readonly outChannels: number,
    random: Random,
  ) {
    super();
    const fanIn = inChannels * patchSize * patchSize;
    const bound = 1 / Math.sqrt(fanIn);
    // PyTorch's Conv2d default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
    this.parameter(
      "weight",
      tensor(
        Float32Array.from(
          { length: outChannels * fanIn },
          () => random.uniform(-bound, bound),
        ),
        [outChannels, inChannels, patchSize, patchSize],
      ),
    );
    this.parameter(
      "bias",
      tensor(Float32Array.from({ length: outChannels }, () => random.uniform(-bound, bound))),
    );
  }
  /** Images [B, C, H, W] to tokens [B, (H/p)(W/p), out]. */
  forward(images: Tensor): Tensor {
    if (images.rank !== 4 || images.shape[1] !== this.inChannels) {
      throw new ShapeError(
        `patch embedding: expected images [B, ${this.inChannels}, H, W], got ${
          formatShape(images.shape)
        }`,
      );
    }
    return tidy(() => {
      let patches = patchify(images, this.patchSize);
      let weight = reshape(this.param("weight"), [this.outChannels, -1]);
      // A patch length that is not a multiple of 4 (3 x 7 x 7 = 147) keeps the matmul off the
      // vec4 and subgroup kernels; zero columns on both operands leave the product unchanged.
      const padding = (4 - weight.shape[1] % 4) % 4;
      if (padding > 0) {
        const [batch, tokens] = patches.shape;
        patches = concat([patches, zeros([batch, tokens, padding])], 2);
        weight = concat([weight, zeros([this.outChannels, padding])], 1);
      }
      return linearAt(this.precision, patches, weight, { bias: this.param("bias") });
    });
  }
}

/**
 * One transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)), with LayerScale if set; with
 * a RoPE table, the attention rotates the patch tokens' queries and keys first (DINOv3).
 */
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
  /** Whether a rate above 0.1 drops by batch subset (DINOv2) rather than per sample. */
  readonly batchSubset: boolean;

  /** Creates the block. */
  constructor(
    config: VitConfig,
    readonly dropPathRate: number,
    random: Random,
    private readonly dropRandom: Random,
  ) {
    super();
    this.batchSubset = config.dropPathBatchSubset;
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

  /**
   * Applies the block to tokens [B, N, dim]; `rope` is the RoPE table [P, 2, headSize / 2] of the
   * last P tokens (see `Attention.forward`), for DINOv3.
   */
  forward(x: Tensor, rope?: Tensor): Tensor {
    return tidy(() => {
      const attended = this.#residual(
        x,
        (n, r) => this.attn.forward(n, r, rope),
        this.norm1,
        this.ls1,
      );
      return this.#residual(attended, (n, r) => this.mlp.forward(n, r), this.norm2, this.ls2);
    });
  }

  #residual(
    x: Tensor,
    branch: (normed: Tensor, residual?: Tensor) => Tensor,
    norm: LayerNorm,
    scale: LayerScale | undefined,
  ): Tensor {
    if (this.training && this.batchSubset && this.dropPathRate > 0.1) {
      return this.#subsetResidual(x, branch, norm, scale);
    }
    const normed = norm.forward(x);
    const stochastic = this.training && this.dropPathRate > 0;
    // residual added inside the output projection's kernel
    if (!scale && !stochastic) return branch(normed, x);
    const raw = branch(normed);
    const scaled = scale ? scale.forward(raw) : raw;
    return add(x, dropPath(scaled, this.dropPathRate, this.training, this.dropRandom));
  }

  /**
   * DINOv2's batch-subset stochastic depth (`drop_add_residual_stochastic_depth`): the branch runs
   * on a random subset of max(floor(B (1 - rate)), 1) samples only, and its output, times
   * B / subset, is added to those samples' rows. The subset is drawn when uploaded, so a replayed
   * step draws its own.
   */
  #subsetResidual(
    x: Tensor,
    branch: (normed: Tensor, residual?: Tensor) => Tensor,
    norm: LayerNorm,
    layerScale: LayerScale | undefined,
  ): Tensor {
    const batch = x.shape[0];
    const kept = Math.max(Math.floor(batch * (1 - this.dropPathRate)), 1);
    using rows = Tensor.empty([kept], "i32", "drop path subset");
    gpu().uploadStepInput(
      rows.buffer,
      () => Int32Array.from(this.dropRandom.permutation(batch).subarray(0, kept)),
    );
    const subset = gatherRows(x, rows);
    const raw = branch(norm.forward(subset));
    const scaled = layerScale ? layerScale.forward(raw) : raw;
    return scatterRows(x, rows, add(subset, scale(scaled, batch / kept)));
  }
}
