/**
 * DINOv3 weights as people download them, onto the ViT of src/nn/vit.ts with RoPE:
 *
 * - the official `.pth` state dict (facebookresearch/dinov3): `cls_token`, `storage_tokens`,
 *   `mask_token`, `patch_embed.proj`, `blocks.N.{norm1, attn.qkv (+ bias_mask), attn.proj, ls1,
 *   norm2, mlp.fc1/fc2 or mlp.w1/w2/w3, ls2}`, `norm`, `rope_embed.periods` (bf16 in releases),
 *   and `local_cls_norm` (7B, SAT ViT-L: training only, dropped);
 * - transformers' `DINOv3ViTModel` (`model.safetensors` + `config.json`, model_type
 *   `dinov3_vit`): `embeddings.{cls_token, mask_token, register_tokens, patch_embeddings}`,
 *   `layer.N.{norm1, attention.{q,k,v,o}_proj (no k bias), layer_scale1.lambda1, norm2,
 *   mlp.up_proj/down_proj or mlp.gate_proj/up_proj/down_proj, layer_scale2.lambda1}`, `norm`.
 *
 * The names are mapped onto the ViT's: storage tokens are its registers, w1/w2 (gate/up) stack
 * into its fused `w12`, q/k/v stack into `qkv` (a zero key bias where there is none). The qkv bias
 * is multiplied by the stored `bias_mask` exactly as stored, as `LinearKMaskedBias` does at every
 * forward (released masks zero the key third; an all-zero mask zeroes the whole bias). The RoPE
 * periods stored by official files are used as they are (transformers recomputes its frequencies
 * from `rope_theta` and stores none; a stored `rope_embeddings.inv_freq` is dropped like it does).
 * @module
 */
import type { VitConfig } from "../../nn/vit.ts";
import { type HostTensor, toFloat32 } from "../../tensor/host.ts";
import { CheckpointError } from "../safetensors.ts";
import {
  checkedHeads,
  numberFrom,
  requireShape,
  squarePatchKernel,
  vitWeightFields,
} from "./architecture.ts";
import type { CheckpointLayout } from "./layouts.ts";

/** What `mapDinov3Keys` returns. */
export interface MappedDinov3 {
  /** The state dict under the ViT's names. */
  state: Map<string, HostTensor>;
  /** Keys left out on purpose (training-only norms, transformers' recomputed frequencies). */
  dropped: string[];
  /** The RoPE periods the file stores (official layout), as float32 values. */
  periods?: number[];
  /** The file's names of the keys renamed, by the ViT's name (for errors). */
  renamed: Map<string, string>;
}

/**
 * `message` with every ViT name that `renamed` knows followed by the file's name for it, so that
 * errors from loading list the keys as the file spells them.
 */
export function withFileNames(message: string, renamed: ReadonlyMap<string, string>): string {
  return message.replace(
    /[A-Za-z_][\w.]*/g,
    (name) => renamed.has(name) ? `${name} (${renamed.get(name)} in the file)` : name,
  );
}

function shapeText(value: HostTensor): string {
  return `[${value.shape.join(", ")}]`;
}

/** `parts` stacked along their first axis (same shapes required); `what` names them in errors. */
function stackRows(file: string, parts: [string, HostTensor][], into: string): HostTensor {
  const [first] = parts;
  for (const [, part] of parts) {
    if (shapeText(part) !== shapeText(first[1])) {
      throw new CheckpointError(
        `${file}: ${parts.map(([key]) => key).join(", ")} must have one shape to make ${into}; ` +
          `got ${parts.map(([key, value]) => `${key} ${shapeText(value)}`).join(", ")}`,
      );
    }
  }
  const arrays = parts.map(([, part]) => toFloat32(part));
  const data = new Float32Array(arrays.reduce((sum, array) => sum + array.length, 0));
  arrays.reduce((at, array) => (data.set(array, at), at + array.length), 0);
  return {
    dtype: "F32",
    shape: [first[1].shape[0] * parts.length, ...first[1].shape.slice(1)],
    data,
  };
}

/** Takes `key` out of `state` (undefined when absent). */
function take(state: Map<string, HostTensor>, key: string): HostTensor | undefined {
  const value = state.get(key);
  state.delete(key);
  return value;
}

/** Indices N of the keys `<prefix>N.` in `state`. */
function blockIndices(state: Map<string, HostTensor>, prefix: string): number[] {
  const found = new Set<number>();
  for (const key of state.keys()) {
    const match = new RegExp(`^${prefix.replace(/\./g, "\\.")}(\\d+)\\.`).exec(key);
    if (match) found.add(Number(match[1]));
  }
  return [...found].sort((a, b) => a - b);
}

function mapOfficial(raw: Map<string, HostTensor>, file: string): MappedDinov3 {
  const state = new Map(raw);
  const dropped: string[] = [];
  for (const key of [...state.keys()]) {
    if (/^local_cls_norm\./.test(key)) {
      state.delete(key);
      dropped.push(key);
    }
  }
  const periodsTensor = take(state, "rope_embed.periods");
  if (!periodsTensor) {
    throw new CheckpointError(
      `${file}: a DINOv3 checkpoint without rope_embed.periods (the RoPE buffer every official ` +
        `file stores); keys: ${[...raw.keys()].slice(0, 12).join(", ")}${
          raw.size > 12 ? ", ..." : ""
        }`,
    );
  }
  if (periodsTensor.shape.length !== 1 || periodsTensor.shape[0] < 1) {
    throw new CheckpointError(
      `${file}: rope_embed.periods has shape ${shapeText(periodsTensor)}, expected [headSize / 4]`,
    );
  }
  const renamed = new Map<string, string>();
  const storage = take(state, "storage_tokens");
  if (storage) {
    state.set("register_tokens", storage);
    renamed.set("register_tokens", "storage_tokens");
  }
  for (const index of blockIndices(state, "blocks.")) {
    const prefix = `blocks.${index}.`;
    const bias = state.get(`${prefix}attn.qkv.bias`);
    const mask = take(state, `${prefix}attn.qkv.bias_mask`);
    if (mask && !bias) {
      throw new CheckpointError(
        `${file}: ${prefix}attn.qkv.bias_mask without ${prefix}attn.qkv.bias`,
      );
    }
    if (mask && bias) {
      if (shapeText(mask) !== shapeText(bias)) {
        throw new CheckpointError(
          `${file}: ${prefix}attn.qkv.bias_mask ${shapeText(mask)} does not match ` +
            `${prefix}attn.qkv.bias ${shapeText(bias)}`,
        );
      }
      const values = toFloat32(bias);
      const factors = toFloat32(mask);
      state.set(`${prefix}attn.qkv.bias`, {
        dtype: "F32",
        shape: [...bias.shape],
        data: values.map((value, i) => Math.fround(value * factors[i])),
      });
    }
    for (const leaf of ["weight", "bias"]) {
      const gate = take(state, `${prefix}mlp.w1.${leaf}`);
      const up = take(state, `${prefix}mlp.w2.${leaf}`);
      if (!gate && !up) continue;
      if (!gate || !up) {
        throw new CheckpointError(
          `${file}: ${prefix}mlp.w1.${leaf} and ${prefix}mlp.w2.${leaf} come together (SwiGLU); ` +
            `only ${gate ? "w1" : "w2"} is there`,
        );
      }
      renamed.set(`${prefix}mlp.w12.${leaf}`, `${prefix}mlp.w1.${leaf} + ${prefix}mlp.w2.${leaf}`);
      state.set(
        `${prefix}mlp.w12.${leaf}`,
        stackRows(
          file,
          [[`${prefix}mlp.w1.${leaf}`, gate], [`${prefix}mlp.w2.${leaf}`, up]],
          `mlp.w12`,
        ),
      );
    }
  }
  return { state, dropped, periods: Array.from(toFloat32(periodsTensor)), renamed };
}

const HF_NAMES: [RegExp, string][] = [
  [/^embeddings\.cls_token$/, "cls_token"],
  [/^embeddings\.mask_token$/, "mask_token"],
  [/^embeddings\.register_tokens$/, "register_tokens"],
  [/^embeddings\.patch_embeddings\.(?:proj\.|projection\.)?(weight|bias)$/, "patch_embed.proj.$1"],
  [/^layer\.(\d+)\.(norm[12])\.(weight|bias)$/, "blocks.$1.$2.$3"],
  [/^layer\.(\d+)\.attention\.o_proj\.(weight|bias)$/, "blocks.$1.attn.proj.$2"],
  [/^layer\.(\d+)\.layer_scale([12])\.lambda1$/, "blocks.$1.ls$2.gamma"],
  [/^norm\.(weight|bias)$/, "norm.$1"],
];

function mapHuggingFace(raw: Map<string, HostTensor>, file: string): MappedDinov3 {
  const state = new Map<string, HostTensor>();
  const dropped: string[] = [];
  const renamed = new Map<string, string>();
  const grouped = new Map<string, Map<string, [string, HostTensor]>>();
  const group = (name: string, part: string, key: string, value: HostTensor) => {
    if (!grouped.has(name)) grouped.set(name, new Map());
    grouped.get(name)!.set(part, [key, value]);
  };
  for (const [rawKey, value] of raw) {
    const key = rawKey.replace(/^(model|dinov3_vit)\./, "");
    if (/^rope_embeddings\./.test(key)) {
      dropped.push(rawKey);
      continue;
    }
    const rule = HF_NAMES.find(([pattern]) => pattern.test(key));
    if (rule) {
      const name = key.replace(rule[0], rule[1]);
      state.set(name, value);
      renamed.set(name, rawKey);
      continue;
    }
    const attention = /^layer\.(\d+)\.attention\.([qkv])_proj\.(weight|bias)$/.exec(key);
    if (attention) {
      group(`blocks.${attention[1]}.attn.qkv.${attention[3]}`, attention[2], rawKey, value);
      continue;
    }
    const mlp = /^layer\.(\d+)\.mlp\.(gate|up|down)_proj\.(weight|bias)$/.exec(key);
    if (mlp) {
      group(`blocks.${mlp[1]}.mlp.*.${mlp[3]}`, mlp[2], rawKey, value);
      continue;
    }
    state.set(rawKey, value);
  }
  for (const [name, parts] of grouped) {
    if (name.includes(".attn.qkv.")) {
      state.set(name, qkvFromParts(file, name, parts));
      renamed.set(name, [...parts.values()].map(([key]) => key).join(" + "));
    } else mlpFromParts(file, name, parts, state, renamed);
  }
  return { state, dropped, renamed };
}

/** q, k, v projections stacked into qkv; a missing bias part (HF's key bias) is zero. */
function qkvFromParts(
  file: string,
  name: string,
  parts: Map<string, [string, HostTensor]>,
): HostTensor {
  const isBias = name.endsWith(".bias");
  const missing = ["q", "k", "v"].filter((part) => !parts.has(part));
  if (!isBias && missing.length) {
    throw new CheckpointError(
      `${file}: ${name} needs q_proj, k_proj and v_proj weights; missing ${missing.join(", ")} ` +
        `(found ${[...parts.values()].map(([key]) => key).join(", ")})`,
    );
  }
  const present = [...parts.values()][0][1];
  const zero: HostTensor = {
    dtype: "F32",
    shape: [...present.shape],
    data: new Float32Array(present.shape.reduce((a, b) => a * b, 1)),
  };
  return stackRows(
    file,
    ["q", "k", "v"].map((part) => parts.get(part) ?? [`${part}_proj.bias (none: zero)`, zero]),
    name,
  );
}

/** HF MLP projections: up/down -> fc1/fc2, or gate/up/down -> w12 (gate, up stacked)/w3. */
function mlpFromParts(
  file: string,
  name: string,
  parts: Map<string, [string, HostTensor]>,
  state: Map<string, HostTensor>,
  renamed: Map<string, string>,
): void {
  const at = (leaf: string) => name.replace("*", leaf);
  const put = (leaf: string, value: HostTensor, ...keys: string[]) => {
    state.set(at(leaf), value);
    renamed.set(at(leaf), keys.join(" + "));
  };
  const gate = parts.get("gate");
  const up = parts.get("up");
  const down = parts.get("down");
  if (gate) {
    if (!up) throw new CheckpointError(`${file}: ${gate[0]} without its up_proj`);
    put("w12", stackRows(file, [gate, up], at("w12")), gate[0], up[0]);
    if (down) put("w3", down[1], down[0]);
  } else {
    if (up) put("fc1", up[1], up[0]);
    if (down) put("fc2", down[1], down[0]);
  }
}

/**
 * Maps a DINOv3 state dict (`layout` "dinov3" or "hf-dinov3", see `detectLayout`) onto the ViT's
 * names. Keys it does not know are kept as they are, so loading lists them. `file` names the
 * source in errors.
 */
export function mapDinov3Keys(
  raw: Map<string, HostTensor>,
  layout: CheckpointLayout,
  file = "checkpoint",
): MappedDinov3 {
  return layout === "hf-dinov3" ? mapHuggingFace(raw, file) : mapOfficial(raw, file);
}

/**
 * The ViT configuration of a mapped DINOv3 state dict: patch, width, depth, storage tokens,
 * LayerScale and feed-forward from the weights; heads from `heads`, config.json, the stored
 * periods (head size = 4 x their count) or width / 64; eps and RoPE base from config.json
 * (defaults 1e-5, 100); the stored periods, when there are.
 */
export function inferDinov3Config(
  mapped: MappedDinov3,
  options: { heads?: number; file?: string } = {},
  config?: Record<string, unknown>,
): Partial<VitConfig> {
  const { state, periods } = mapped;
  const file = options.file ?? "checkpoint";
  const { embedDim, inChannels, patch } = squarePatchKernel(state, file, "patch_embed.proj.weight");
  const depth = blockIndices(state, "blocks.").length;
  if (depth === 0) throw new CheckpointError(`${file}: no blocks (blocks.N.* or layer.N.* keys)`);
  const fromPeriods = periods ? embedDim / (4 * periods.length) : undefined;
  const heads = checkedHeads(
    file,
    embedDim,
    options.heads ?? numberFrom(config, "num_attention_heads") ?? fromPeriods ?? embedDim / 64,
  );
  const headSize = embedDim / heads;
  if (headSize % 4 !== 0) {
    throw new CheckpointError(
      `${file}: ${heads} heads of width ${embedDim} have a head size of ${headSize}; RoPE needs ` +
        `a multiple of 4`,
    );
  }
  if (periods && periods.length !== headSize / 4) {
    throw new CheckpointError(
      `${file}: rope_embed.periods holds ${periods.length} periods, but ${heads} heads of width ` +
        `${embedDim} (head size ${headSize}) take headSize / 4 = ${headSize / 4}`,
    );
  }
  const swiglu = state.has("blocks.0.mlp.w12.weight");
  const activation = config?.hidden_act;
  if (activation !== undefined && activation !== (swiglu ? "silu" : "gelu")) {
    throw new CheckpointError(
      `${file}: hidden_act ${JSON.stringify(activation)} with a ${
        swiglu ? "gated (SwiGLU)" : "plain"
      } MLP; DINOv3 uses ${swiglu ? '"silu"' : '"gelu"'}`,
    );
  }
  const registers = state.get("register_tokens")?.shape.at(-2) ?? 0;
  return {
    imageSize: numberFrom(config, "image_size") ?? 224,
    ...vitWeightFields(
      state,
      (key) => requireShape(state, file, key, 2),
      { embedDim, inChannels, patch, depth, heads },
      registers,
    ),
    layerScaleInit: state.has("blocks.0.ls1.gamma") ? 1e-5 : undefined,
    eps: numberFrom(config, "layer_norm_eps") ?? 1e-5,
    positionEmbedding: "rope",
    ropeBase: numberFrom(config, "rope_theta") ?? 100,
    ropePeriods: periods,
  };
}
