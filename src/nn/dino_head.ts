/**
 * DINO's projection head: an MLP (GELU between layers) to a bottleneck, L2 normalisation, then a
 * weight-normalised linear layer without bias to `outDim` prototypes (`last_layer.weight_g`,
 * `last_layer.weight_v`), whose magnitude g is frozen at 1 when `normLastLayer` is set.
 * @module
 */
import { mul } from "../ops/elementwise/forward.ts";
import { l2Normalize } from "../ops/reduction/forward.ts";
import { Random } from "../tensor/random.ts";
import { full, type Tensor, tidy } from "../tensor/tensor.ts";
import { Linear, linearAt } from "./layers.ts";
import { Module } from "./module.ts";

/** Configuration of a DINO head. */
export interface DinoHeadConfig {
  /** Input width (the backbone's). */
  inDim: number;
  /** Number of prototypes (65536 in DINO; 1024 in small-data recipes). */
  outDim: number;
  /** Hidden width of the MLP. */
  hiddenDim: number;
  /** Bottleneck width before normalisation. */
  bottleneckDim: number;
  /** MLP layers (1 = a single linear layer). */
  layers: number;
  /** Freeze the last layer's magnitude g at 1. */
  normLastLayer: boolean;
  /** Seed of the initialisation. */
  seed: number;
}

/** DINO's defaults, overridden by `options` (inDim is required). */
export function dinoHeadConfig(
  options: Partial<DinoHeadConfig> & { inDim: number },
): DinoHeadConfig {
  return {
    outDim: 65536,
    hiddenDim: 2048,
    bottleneckDim: 256,
    layers: 3,
    normLastLayer: true,
    seed: 1,
    ...options,
  };
}

/** The weight-normalised last layer: weight = g * v / ||v|| (per output row). */
export class WeightNormLinear extends Module {
  /**
   * Whether g is a parameter of its own (DINO's norm_last_layer False) rather than fixed at 1.
   * Decided at construction, not by `requiresGrad`: a teacher (EMA or frozen) uses its trained g
   * although nothing of it requires grad.
   */
  readonly trainableMagnitude: boolean;

  /** Creates the layer: v with PyTorch's default Linear init, g = 1. */
  constructor(inDim: number, outDim: number, random: Random, trainableMagnitude: boolean) {
    super();
    this.trainableMagnitude = trainableMagnitude;
    const inner = new Linear(inDim, outDim, random, { bias: false, init: "pytorch" });
    const [[, v]] = inner.namedParameters();
    this.parameter("weight_g", full([outDim, 1], 1), trainableMagnitude);
    this.parameter("weight_v", v);
  }
  /** The effective weight [out, in]. */
  weight(): Tensor {
    if (!this.trainableMagnitude) return l2Normalize(this.param("weight_v")); // g fixed at 1
    return tidy(() => mul(l2Normalize(this.param("weight_v")), this.param("weight_g")));
  }
  /** Applies the layer. */
  forward(x: Tensor): Tensor {
    using weight = this.weight();
    return linearAt(this.precision, x, weight);
  }
}

/** The DINO projection head. */
export class DinoHead extends Module {
  /** The configuration. */
  readonly config: DinoHeadConfig;
  /** MLP layers in order. */
  readonly mlp: Linear[];
  /** The weight-normalised prototype layer. */
  readonly lastLayer: WeightNormLinear;

  /** Creates the head with DINO's initialisation. */
  constructor(options: Partial<DinoHeadConfig> & { inDim: number }) {
    super();
    const config = this.config = dinoHeadConfig(options);
    const random = new Random(config.seed);
    const widths = config.layers === 1
      ? [config.inDim, config.bottleneckDim]
      : [config.inDim, ...Array(config.layers - 1).fill(config.hiddenDim), config.bottleneckDim];
    this.mlp = widths.slice(1).map((width, index) =>
      this.child(
        config.layers === 1 ? "mlp" : `mlp.${index * 2}`,
        new Linear(widths[index], width, random),
      )
    );
    this.lastLayer = this.child(
      "last_layer",
      new WeightNormLinear(config.bottleneckDim, config.outDim, random, !config.normLastLayer),
    );
  }

  /** Bottleneck features after L2 normalisation [B, bottleneck]. */
  embed(x: Tensor): Tensor {
    return tidy(() => {
      let hidden = x;
      this.mlp.forEach((layer, index) => {
        const last = index === this.mlp.length - 1;
        hidden = layer.forward(hidden, last ? {} : { activation: "gelu" });
      });
      return l2Normalize(hidden);
    });
  }

  /** Prototype scores [B, outDim] (logits before the temperature softmax). */
  forward(x: Tensor): Tensor {
    using embedded = this.embed(x);
    return this.lastLayer.forward(embedded);
  }

  /** The last layer's parameters (frozen during DINO's first epoch). */
  lastLayerParameters(): Tensor[] {
    return this.lastLayer.parameters();
  }
}
