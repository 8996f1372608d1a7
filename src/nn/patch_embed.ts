/**
 * Patch embeddings: a convolution whose kernel and stride are the patch size, computed as
 * patchify + matmul (`ConvProjection`), wrapped as the ViT names it (`PatchEmbed.proj`).
 * @module
 */
import { ShapeError } from "../gpu/errors.ts";
import { patchify } from "../ops/image/forward.ts";
import { linear } from "../ops/matmul/forward.ts";
import { concat, reshape } from "../ops/shape/forward.ts";
import type { Random } from "../tensor/random.ts";
import { formatShape, type Tensor, tensor, tidy, zeros } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

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
      return linear(patches, weight, this.param("bias"));
    });
  }
}
