/**
 * The student's parameter groups: which parameters are weight-decayed, and (DINOv2's
 * `get_params_groups_with_decay` in `dinov2/utils/param_groups.py`) the learning-rate multiplier of
 * each, from layer-wise decay and the patch embedding's multiplier.
 *
 * Layer-wise decay numbers the backbone's layers as DINOv2 does: the patch embedding, position
 * embedding, CLS token and mask token are layer 0, block i is layer i + 1, everything else of the
 * backbone (the final norm; register tokens, which the official rule matches by none of its
 * names) is layer depth + 1; a parameter of layer l gets `layerwiseDecay ** (depth + 1 - l)`.
 * The heads are outside the backbone and keep multiplier 1. The patch embedding's multiplier is
 * further multiplied by `patchEmbedLrMultiplier`. Biases, norms and LayerScale gains (DINO: the
 * rank-1 parameters; DINOv2: names ending in `.bias` or holding `norm` or `gamma`; the same
 * parameters here) are not weight-decayed.
 * @module
 */
import type { ParamGroup } from "../optim/adamw.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { DinoTrainConfig } from "./config.ts";
import type { DinoNetwork } from "./models.ts";

/** The learning-rate and weight-decay multipliers of one parameter. */
export interface ParameterMultipliers {
  /** Multiplier of the scheduled learning rate. */
  lrMultiplier: number;
  /** Multiplier of the scheduled weight decay (0: not decayed). */
  weightDecayMultiplier: number;
}

/** The recipe keys the multipliers depend on. */
export type ParamGroupConfig = Pick<DinoTrainConfig, "layerwiseDecay" | "patchEmbedLrMultiplier">;

/** Names (within the backbone) of the parameters DINOv2 puts in layer 0. */
const LAYER_ZERO = ["pos_embed", "patch_embed", "mask_token", "cls_token"];

/**
 * The layer of a backbone parameter for layer-wise decay (DINOv2's `get_vit_lr_decay_rate`):
 * `name` is the name within the backbone (`blocks.3.attn.qkv.weight`), `depth` its block count.
 */
export function backboneLayer(name: string, depth: number): number {
  if (LAYER_ZERO.some((prefix) => name.includes(prefix))) return 0;
  const block = /(?:^|\.)blocks\.(\d+)\./.exec(name);
  return block ? Number(block[1]) + 1 : depth + 1;
}

/** Whether a parameter is left out of weight decay (biases, norms, LayerScale gains, rank 1). */
export function withoutWeightDecay(name: string, rank: number): boolean {
  return name.endsWith(".bias") || rank === 1 || name.includes("norm") || name.includes("gamma");
}

/**
 * The multipliers of one student parameter: `name` as `DinoNetwork.namedParameters` gives it
 * (`backbone.blocks.0.attn.qkv.weight`, `head.mlp.0.weight`), `rank` its number of dimensions,
 * `depth` the backbone's block count.
 */
export function parameterMultipliers(
  name: string,
  rank: number,
  depth: number,
  config: ParamGroupConfig,
): ParameterMultipliers {
  let lrMultiplier = 1;
  if (name.startsWith("backbone.")) {
    const inner = name.slice("backbone.".length);
    lrMultiplier = config.layerwiseDecay ** (depth + 1 - backboneLayer(inner, depth));
    if (inner.includes("patch_embed")) lrMultiplier *= config.patchEmbedLrMultiplier;
  }
  return { lrMultiplier, weightDecayMultiplier: withoutWeightDecay(name, rank) ? 0 : 1 };
}

/**
 * The student's trainable parameters in groups of equal multipliers (DINOv2's
 * `fuse_params_groups`), weight-decayed groups first, then by descending learning-rate
 * multiplier: with layer-wise decay 1 and patch multiplier 1 these are DINO's two groups
 * (regularised, then biases and norms), in DINO's order.
 */
export function studentParamGroups(student: DinoNetwork, config: DinoTrainConfig): ParamGroup[] {
  const depth = config.depth;
  const groups = new Map<string, Required<Omit<ParamGroup, "lr" | "weightDecay">>>();
  for (const [name, parameter] of student.namedParameters()) {
    if (!parameter.requiresGrad) continue;
    const multipliers = parameterMultipliers(name, parameter.rank, depth, config);
    const key = `${multipliers.lrMultiplier}/${multipliers.weightDecayMultiplier}`;
    let group = groups.get(key);
    if (!group) {
      group = { params: [] as Tensor[], ...multipliers };
      groups.set(key, group);
    }
    group.params.push(parameter);
  }
  return [...groups.values()].sort((a, b) =>
    b.weightDecayMultiplier - a.weightDecayMultiplier || b.lrMultiplier - a.lrMultiplier
  );
}
