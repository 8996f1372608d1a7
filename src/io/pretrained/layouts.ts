/**
 * The key layouts of pretrained weights: official DINO, DINOv2 and DINOv3 checkpoints, DINO
 * training checkpoints, timm ViT and MLP-Mixer, Hugging Face transformers' `ViTModel` /
 * `Dinov2Model` / `DINOv3ViTModel`; how a state dict's layout is recognised, and the map of
 * Hugging Face ViT / DINOv2 names onto the official ones (DINOv3's maps are in dinov3.ts).
 * @module
 */
import { CheckpointError } from "../safetensors.ts";
import { type HostTensor, toFloat32 } from "../../tensor/host.ts";

/** The key layouts understood. */
export type CheckpointLayout =
  | "dino"
  | "dinov2"
  | "timm-vit"
  | "timm-mixer"
  | "hf-vit"
  | "hf-dinov2"
  | "dinov3"
  | "hf-dinov3"
  | "dinogpu";

function concatRows(file: string, parts: HostTensor[], name: string): HostTensor {
  const width = parts[0].shape.slice(1);
  for (const part of parts) {
    if (
      part.shape.length !== parts[0].shape.length ||
      part.shape.some((v, i) => v !== parts[0].shape[i])
    ) {
      throw new CheckpointError(
        `${file}: query/key/value of ${name} differ in shape: ${
          parts.map((p) => `[${p.shape.join(", ")}]`).join(", ")
        }`,
      );
    }
  }
  const arrays = parts.map(toFloat32);
  const data = new Float32Array(arrays.reduce((sum, a) => sum + a.length, 0));
  let at = 0;
  for (const array of arrays) {
    data.set(array, at);
    at += array.length;
  }
  return { dtype: "F32", shape: [parts[0].shape[0] * parts.length, ...width], data };
}

const HF_EMBEDDINGS: Record<string, string> = {
  "embeddings.cls_token": "cls_token",
  "embeddings.mask_token": "mask_token",
  "embeddings.register_tokens": "register_tokens",
  "embeddings.position_embeddings": "pos_embed",
  "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
  "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
  "layernorm.weight": "norm.weight",
  "layernorm.bias": "norm.bias",
};

const HF_LAYER: Record<string, string> = {
  "attention.output.dense": "attn.proj",
  "intermediate.dense": "mlp.fc1",
  "output.dense": "mlp.fc2",
  "layernorm_before": "norm1",
  "layernorm_after": "norm2",
  "norm1": "norm1",
  "norm2": "norm2",
  "mlp.fc1": "mlp.fc1",
  "mlp.fc2": "mlp.fc2",
  "mlp.weights_in": "mlp.w12",
  "mlp.weights_out": "mlp.w3",
};

/**
 * Renames a Hugging Face ViTModel / Dinov2Model state dict to the official names: query, key and
 * value are concatenated into `attn.qkv`, `layer_scaleN.lambda1` becomes `lsN.gamma`. Pooler and
 * classifier keys go to `dropped`; keys it does not know are kept as they are (so loading reports
 * them).
 */
export function mapHuggingFaceKeys(
  state: Map<string, HostTensor>,
  file = "checkpoint",
): { state: Map<string, HostTensor>; dropped: string[] } {
  const out = new Map<string, HostTensor>();
  const dropped: string[] = [];
  const qkv = new Map<string, Map<string, HostTensor>>();
  for (const [rawKey, value] of state) {
    const key = rawKey.replace(/^(vit|dinov2)\./, "");
    if (/^(pooler|classifier)\./.test(key)) {
      dropped.push(rawKey);
      continue;
    }
    if (key in HF_EMBEDDINGS) {
      out.set(HF_EMBEDDINGS[key], value);
      continue;
    }
    const layer = /^encoder\.layer\.(\d+)\.(.+)\.(weight|bias|lambda1)$/.exec(key);
    if (!layer) {
      out.set(rawKey, value);
      continue;
    }
    const [, index, inner, leaf] = layer;
    const attention = /^attention\.attention\.(query|key|value)$/.exec(inner);
    if (attention && leaf !== "lambda1") {
      const group = `blocks.${index}.attn.qkv.${leaf}`;
      if (!qkv.has(group)) qkv.set(group, new Map());
      qkv.get(group)!.set(attention[1], value);
      continue;
    }
    const scale = /^layer_scale([12])$/.exec(inner);
    if (scale && leaf === "lambda1") {
      out.set(`blocks.${index}.ls${scale[1]}.gamma`, value);
      continue;
    }
    if (inner in HF_LAYER && leaf !== "lambda1") {
      out.set(`blocks.${index}.${HF_LAYER[inner]}.${leaf}`, value);
      continue;
    }
    out.set(rawKey, value);
  }
  for (const [group, parts] of qkv) {
    const missing = ["query", "key", "value"].filter((part) => !parts.has(part));
    if (missing.length) {
      throw new CheckpointError(`${file}: ${group}: missing ${missing.join(", ")}`);
    }
    out.set(group, concatRows(file, ["query", "key", "value"].map((p) => parts.get(p)!), group));
  }
  return { state: out, dropped };
}

/**
 * The layout of a state dict (HF names before mapping; official names otherwise). DINOv3 is
 * recognised first: transformers' `layer.N.*` keys or model_type `dinov3_vit`; official
 * `storage_tokens`, `rope_embed.periods`, a qkv `bias_mask` or a SwiGLU `w1`/`w2`.
 */
export function detectLayout(
  state: Map<string, HostTensor>,
  config?: Record<string, unknown>,
): CheckpointLayout {
  const keys = [...state.keys()];
  const type = String(config?.model_type ?? "");
  if (
    type === "dinov3_vit" || type === "DINOv3ViT" ||
    keys.some((k) => /^((model|dinov3_vit)\.)?layer\.\d+\./.test(k))
  ) {
    return "hf-dinov3";
  }
  if (
    state.has("storage_tokens") || state.has("rope_embed.periods") ||
    keys.some((k) => /^blocks\.\d+\.(attn\.qkv\.bias_mask|mlp\.w[12]\.weight)$/.test(k))
  ) {
    return "dinov3";
  }
  const hf = keys.some((k) => /^((vit|dinov2)\.)?(embeddings\.|encoder\.layer\.)/.test(k));
  if (hf) {
    if (type.startsWith("dinov2")) return "hf-dinov2";
    if (type === "vit") return "hf-vit";
    return keys.some((k) => /\.(layer_scale1|norm1)\./.test(k)) ? "hf-dinov2" : "hf-vit";
  }
  if (state.has("stem.proj.weight")) return "timm-mixer";
  if (state.has("head.weight") || state.has("fc_norm.weight")) return "timm-vit";
  if (state.has("mask_token") || state.has("register_tokens") || state.has("blocks.0.ls1.gamma")) {
    return "dinov2";
  }
  return "dino";
}
