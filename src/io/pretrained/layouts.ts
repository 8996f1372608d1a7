/**
 * The key layouts of pretrained weights: official DINO, DINOv2 and DINOv3 checkpoints, DINO
 * training checkpoints, timm ViT and MLP-Mixer, Hugging Face transformers' `ViTModel` /
 * `Dinov2Model` / `DINOv3ViTModel`; how a state dict's layout is recognised, and the map of
 * Hugging Face ViT / DINOv2 names onto the official ones (DINOv3's maps are in dinov3.ts), and the
 * renaming of DINOv2 training checkpoints' chunked blocks (`blocks.C.N.*`).
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

/** Block indices as runs: [0, 1, 2, 4] -> "0-2, 4". */
function runs(indices: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < indices.length;) {
    let j = i;
    while (j + 1 < indices.length && indices[j + 1] === indices[j] + 1) j++;
    parts.push(i === j ? `${indices[i]}` : `${indices[i]}-${indices[j]}`);
    i = j + 1;
  }
  return parts.join(", ");
}

/**
 * Renames the blocks of a DINOv2 training checkpoint whose ViT was built with `block_chunks` > 0:
 * `blocks.C.N.*` (C the chunk, N the block's index in the whole model, as facebookresearch/dinov2's
 * BlockChunk keeps it by padding with nn.Identity) becomes `blocks.N.*`. A state dict without such
 * keys is returned as it is. Only two integer levels after `blocks.` followed by a name count as
 * chunked; a mix of chunked and other block keys, a block in two chunks, a block in no chunk
 * (a gap) or chunks out of order are a CheckpointError naming `file` and the chunks found.
 */
export function unchunkBlockKeys(
  state: Map<string, HostTensor>,
  file = "checkpoint",
): Map<string, HostTensor> {
  const chunked = new Map<string, { chunk: number; block: number; rest: string }>();
  const others: string[] = [];
  for (const key of state.keys()) {
    if (!key.startsWith("blocks.")) continue;
    const match = /^blocks\.(\d+)\.(\d+)\.(.+)$/.exec(key);
    if (match && !/^\d+(\.|$)/.test(match[3])) {
      chunked.set(key, { chunk: Number(match[1]), block: Number(match[2]), rest: match[3] });
    } else others.push(key);
  }
  if (chunked.size === 0) return state;
  if (others.length > 0) {
    const example = [...chunked.keys()][0];
    throw new CheckpointError(
      `${file}: block keys mix the chunked layout blocks.C.N.* (e.g. ${example}) with others ` +
        `(e.g. ${others.slice(0, 3).join(", ")})`,
    );
  }
  const chunkOf = new Map<number, number>();
  const blocks = new Map<number, Set<number>>();
  for (const [key, { chunk, block }] of chunked) {
    const seen = chunkOf.get(block);
    if (seen !== undefined && seen !== chunk) {
      throw new CheckpointError(
        `${file}: block ${block} appears in chunks ${seen} and ${chunk} ` +
          `(blocks.${seen}.${block}.* and ${key}); N in blocks.C.N.* must be the block's index ` +
          `in the whole model`,
      );
    }
    chunkOf.set(block, chunk);
    if (!blocks.has(chunk)) blocks.set(chunk, new Set());
    blocks.get(chunk)!.add(block);
  }
  const chunks = [...blocks.keys()].sort((a, b) => a - b);
  const sorted = new Map(chunks.map((c) => [c, [...blocks.get(c)!].sort((a, b) => a - b)]));
  const found = chunks.map((c) => `chunk ${c}: blocks ${runs(sorted.get(c)!)}`).join("; ");
  const missing = chunks.findIndex((c, i) => c !== i);
  if (missing >= 0) {
    throw new CheckpointError(
      `${file}: chunk ${missing} of blocks.C.N.* is missing (chunks ${
        chunks.join(", ")
      }; ${found})`,
    );
  }
  const depth = Math.max(...chunkOf.keys()) + 1;
  const gaps = [...Array(depth).keys()].filter((block) => !chunkOf.has(block));
  if (gaps.length > 0) {
    throw new CheckpointError(
      `${file}: block${gaps.length > 1 ? "s" : ""} ${runs(gaps)} of 0-${depth - 1} ${
        gaps.length > 1 ? "are" : "is"
      } in no chunk of blocks.C.N.* (${found})`,
    );
  }
  let next = 0;
  for (const chunk of chunks) {
    for (const block of sorted.get(chunk)!) {
      if (block !== next) {
        throw new CheckpointError(
          `${file}: chunk ${chunk} holds block ${block} where block ${next} comes next: chunks ` +
            `must hold consecutive blocks in order (${found})`,
        );
      }
      next++;
    }
  }
  const out = new Map<string, HostTensor>();
  const origin = new Map<string, string>();
  for (const [key, value] of state) {
    const parts = chunked.get(key);
    const name = parts ? `blocks.${parts.block}.${parts.rest}` : key;
    if (out.has(name)) {
      throw new CheckpointError(
        `${file}: keys ${origin.get(name)} and ${key} both become ${name} once chunks are removed`,
      );
    }
    out.set(name, value);
    origin.set(name, key);
  }
  return out;
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
