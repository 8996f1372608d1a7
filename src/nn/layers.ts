/**
 * The building blocks, smallest first: Linear, LayerNorm, LayerScale, Mlp, SwiGLU feed-forward,
 * multi-head self-attention and stochastic depth. Parameter names follow the official PyTorch code.
 * @module
 */
import { cast } from "../ops/cast/forward.ts";
import { selfAttention, selfAttentionProbabilities } from "../ops/attention/forward.ts";
import { mul, silu } from "../ops/elementwise/forward.ts";
import { matmul } from "../ops/matmul/forward.ts";
import { layerNorm } from "../ops/normalization/forward.ts";
import { ropeQkv } from "../ops/rope/forward.ts";
import { permute, reshape, split } from "../ops/shape/forward.ts";
import { type Random, truncatedNormal, uniform } from "../tensor/random.ts";
import { gpu } from "../gpu/device.ts";
import { needsGrad } from "../tensor/tape.ts";
import { full, keep, Tensor, tidy, zeros } from "../tensor/tensor.ts";
import { type ComputePrecision, Module } from "./module.ts";

/**
 * `x @ weight^T + bias` (weight [out, in]) with an optional fused GELU and residual, at
 * `precision`: at f16, x (unless it is f16 already) and the weight are cast to f16 first (f32 sums, bias, epilogue and
 * output; the casts are differentiable). What every Linear-like layer calls.
 */
export function linearAt(
  precision: ComputePrecision,
  x: Tensor,
  weight: Tensor,
  options: { bias?: Tensor; activation?: "gelu"; residual?: Tensor } = {},
): Tensor {
  if (precision === "f32") return matmul(x, weight, { transposeB: true, ...options });
  const halfX = x.dtype === "f16" ? x : cast(x, "f16");
  const shared = sharedHalfWeight(weight);
  const halfWeight = shared ?? cast(weight, "f16");
  const output = matmul(halfX, halfWeight, { transposeB: true, ...options });
  if (halfX !== x) halfX.dispose(); // the tape keeps what the gradient needs
  if (!shared) halfWeight.dispose();
  return output;
}

/** The f16 copies of trained weights made inside `withWeightCasts`, by weight. */
let weightCasts: Map<Tensor, Tensor> | undefined;

/**
 * Inside `withWeightCasts`, the one f16 copy of a weight that requires grad (the same tensor at
 * every use, so that its gradient sums them; `withWeightCasts` disposes it); else undefined.
 */
function sharedHalfWeight(weight: Tensor): Tensor | undefined {
  if (!weightCasts || !needsGrad([weight])) return undefined;
  let copy = weightCasts.get(weight);
  if (!copy) {
    copy = keep(cast(weight, "f16"));
    weightCasts.set(weight, copy);
  }
  return copy;
}

/**
 * Runs `body` with one f16 copy of each trained weight: the products at precision f16 inside it
 * cast a weight that requires grad once, at its first use, and share that copy (and its gradient)
 * afterwards, as PyTorch's autocast caches its casts; a network run twice in a step (DINO's global
 * and local views) then saves one copy of its weights for the backward, not two. The copies are
 * released at the end (the tape keeps what the backward needs). The weights must not change
 * inside `body` after their first use (a step's forward passes come before its optimizer).
 */
export function withWeightCasts<T>(body: () => T): T {
  const outer = weightCasts;
  const copies = new Map<Tensor, Tensor>();
  weightCasts = copies;
  try {
    return body();
  } finally {
    weightCasts = outer;
    for (const copy of copies.values()) copy.dispose();
  }
}

/** y = x W^T + b with PyTorch's weight layout [out, in]. */
export class Linear extends Module {
  /**
   * Creates the layer. Weights are drawn from a truncated normal with std 0.02 (DINO's and timm's
   * `_init_weights`) or, with `init: "pytorch"`, from PyTorch's default U(-1/sqrt(in), 1/sqrt(in)).
   */
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    random: Random,
    { bias = true, init = "truncated-normal" }: {
      bias?: boolean;
      init?: "truncated-normal" | "pytorch";
    } = {},
  ) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.parameter(
      "weight",
      init === "pytorch"
        ? uniform([outFeatures, inFeatures], random, -bound, bound)
        : truncatedNormal([outFeatures, inFeatures], random, 0.02),
    );
    if (bias) this.parameter("bias", zeros([outFeatures]));
  }

  /**
   * Applies the layer over the last axis, with an optional fused GELU and residual, at the
   * module's precision (`linearAt`).
   */
  forward(x: Tensor, options: { activation?: "gelu"; residual?: Tensor } = {}): Tensor {
    return linearAt(this.precision, x, this.weight, { bias: this.bias, ...options });
  }

  /** Weight [out, in]. */
  get weight(): Tensor {
    return this.param("weight");
  }

  /** Bias [out], if the layer has one. */
  get bias(): Tensor | undefined {
    return this.optionalParam("bias");
  }
}

/** LayerNorm over the last axis with learned scale and shift. */
export class LayerNorm extends Module {
  /** Creates the layer (weight 1, bias 0). */
  constructor(readonly dim: number, readonly eps = 1e-6) {
    super();
    this.parameter("weight", full([dim], 1));
    this.parameter("bias", zeros([dim]));
  }
  /** Normalises `x` over its last axis (at precision f16 the backward keeps x as f16). */
  forward(x: Tensor): Tensor {
    const savedInput = this.precision;
    return layerNorm(x, this.param("weight"), this.param("bias"), this.eps, { savedInput });
  }
}

/** DINOv2's LayerScale: x * gamma, gamma [dim] initialised to a small constant. */
export class LayerScale extends Module {
  /** Creates the layer with gamma = `init`. */
  constructor(readonly dim: number, init: number) {
    super();
    this.parameter("gamma", full([dim], init));
  }
  /** Scales `x` channel-wise. */
  forward(x: Tensor): Tensor {
    return mul(x, this.param("gamma"));
  }
}

/** fc1 -> GELU -> fc2 (the transformer feed-forward and the Mixer's MLPs). */
export class Mlp extends Module {
  /** First layer. */
  readonly fc1: Linear;
  /** Second layer. */
  readonly fc2: Linear;
  /** Creates the MLP. */
  constructor(
    inFeatures: number,
    hiddenFeatures: number,
    random: Random,
    outFeatures = inFeatures,
  ) {
    super();
    this.fc1 = this.child("fc1", new Linear(inFeatures, hiddenFeatures, random));
    this.fc2 = this.child("fc2", new Linear(hiddenFeatures, outFeatures, random));
  }
  /** Applies the MLP; `residual` is added to the output in the same kernel. */
  forward(x: Tensor, residual?: Tensor): Tensor {
    return tidy(() => this.fc2.forward(this.fc1.forward(x, { activation: "gelu" }), { residual }));
  }
}

/** Hidden width of DINOv2's fused SwiGLU feed-forward for an MLP width `hiddenFeatures`. */
export function swigluHiddenFeatures(hiddenFeatures: number): number {
  return Math.floor((Math.floor(hiddenFeatures * 2 / 3) + 7) / 8) * 8;
}

/** DINOv2's SwiGLU feed-forward: w12 -> chunk -> silu(x1) * x2 -> w3. */
export class SwiGLUFeedForward extends Module {
  /** Joint input projection to 2 x hidden. */
  readonly w12: Linear;
  /** Output projection. */
  readonly w3: Linear;
  /** Creates the layer with hidden width `hidden` (see `swigluHiddenFeatures`). */
  constructor(dim: number, readonly hidden: number, random: Random) {
    super();
    this.w12 = this.child("w12", new Linear(dim, 2 * hidden, random));
    this.w3 = this.child("w3", new Linear(hidden, dim, random));
  }
  /** Applies the feed-forward; `residual` is added in the output kernel. */
  forward(x: Tensor, residual?: Tensor): Tensor {
    return tidy(() => {
      const [gate, value] = split(this.w12.forward(x), -1, [this.hidden, this.hidden]);
      return this.w3.forward(mul(silu(gate), value), { residual });
    });
  }
}

/** Multi-head self-attention with a joint qkv projection (DINO's `Attention`). */
export class Attention extends Module {
  /** Joint query/key/value projection [3 dim, dim]. */
  readonly qkv: Linear;
  /** Output projection. */
  readonly proj: Linear;
  /** Size of one head. */
  readonly headDim: number;
  /** Creates the layer. */
  constructor(readonly dim: number, readonly heads: number, random: Random, qkvBias = true) {
    super();
    this.headDim = dim / heads;
    this.qkv = this.child("qkv", new Linear(dim, 3 * dim, random, { bias: qkvBias }));
    this.proj = this.child("proj", new Linear(dim, dim, random));
  }

  /**
   * The packed queries, keys and values [B, N, 3 dim] of tokens `x` [B, N, dim]; with `rope` (a
   * table [P, 2, headDim / 2] of cosines and sines, src/ops/rope/), the queries and keys of the last
   * P tokens rotated as DINOv3 does (the CLS and storage tokens before them are not).
   */
  packedQkv(x: Tensor, rope?: Tensor): Tensor {
    if (!rope) return this.qkv.forward(x);
    return tidy(() => ropeQkv(this.qkv.forward(x), rope, this.heads));
  }

  /**
   * Queries, keys and values [B, heads, N, headDim] of tokens `x` [B, N, dim], as separate tensors
   * (for inspection; `forward` and `probabilities` read them straight from the packed projection).
   */
  projections(x: Tensor, rope?: Tensor): [Tensor, Tensor, Tensor] {
    const [batch, tokens] = x.shape;
    return tidy(() => {
      const split5 = reshape(this.packedQkv(x, rope), [batch, tokens, 3, this.heads, this.headDim]);
      const parts = split(permute(split5, [2, 0, 3, 1, 4]), 0, [1, 1, 1]);
      return parts.map((part) => reshape(part, [batch, this.heads, tokens, this.headDim]));
    }) as [Tensor, Tensor, Tensor];
  }

  /**
   * Attention over tokens `x` [B, N, dim]; `residual` is added in the projection kernel; `rope` as
   * in `packedQkv`. At precision f16 the packed q, k, v are cast to f16 and the attention output
   * is f16 (what the backward saves of both is then half the bytes; the sums stay f32).
   */
  forward(x: Tensor, residual?: Tensor, rope?: Tensor): Tensor {
    return tidy(() => {
      const qkv = this.packedQkv(x, rope);
      const packed = this.precision === "f16" ? cast(qkv, "f16") : qkv;
      // fused: reads q, k, v from the packed [B, N, 3 dim] and writes heads merged [B, N, dim]
      return this.proj.forward(selfAttention(packed, this.heads), { residual });
    });
  }

  /** Softmax attention probabilities [B, heads, N, N] (for attention maps; no gradient). */
  probabilities(x: Tensor, rope?: Tensor): Tensor {
    return tidy(() => selfAttentionProbabilities(this.packedQkv(x, rope), this.heads));
  }
}

/**
 * Stochastic depth: in training, zeroes each sample's branch with probability `rate` and scales
 * the kept ones by 1 / (1 - rate). Returns `branch` itself when inactive.
 */
export function dropPath(branch: Tensor, rate: number, training: boolean, random: Random): Tensor {
  if (!training || rate <= 0) return branch;
  const keep = 1 - rate;
  const batch = branch.shape[0];
  const maskShape = [batch, ...branch.shape.slice(1).map(() => 1)];
  // drawn at upload time, so that a replayed step draws its own masks
  using mask = Tensor.empty(maskShape, "f32", "drop path mask");
  gpu().uploadStepInput(
    mask.buffer,
    () => Float32Array.from({ length: batch }, () => (random.next() < keep ? 1 / keep : 0)),
  );
  return mul(branch, mask);
}

/**
 * Runs `blocks` on `tokens`, disposing each block's input once the next output exists (so at
 * most two activations are alive; the tape keeps what backward needs); `tokens` too, unless `blocks` is empty (then it is the result).
 * `each` sees every block's output with the block's index.
 */
export function runBlocks(
  blocks: readonly { forward(x: Tensor): Tensor }[],
  tokens: Tensor,
  each?: (x: Tensor, index: number) => void,
): Tensor {
  let x = tokens;
  blocks.forEach((block, index) => {
    const next = block.forward(x);
    x.dispose();
    x = next;
    each?.(x, index);
  });
  return x;
}
