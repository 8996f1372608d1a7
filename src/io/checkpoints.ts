/**
 * Loading downloaded weights into dinogpu models: the key layouts of official DINO and DINOv2
 * checkpoints, DINO training checkpoints, timm ViT and MLP-Mixer, and Hugging Face transformers'
 * `ViTModel` / `Dinov2Model` folders (`model.safetensors` + `config.json`), with the architecture
 * read from the keys and shapes (or the config) when nothing else says it.
 *
 * Position-embedding interpolation per layout (see `VitConfig.interpolation`):
 * - DINO, DINOv2 (and DINO training checkpoints): "scale-offset" (bicubic, scale (grid + 0.1) / M);
 * - DINOv2 with registers: "size-antialias";
 * - timm ViT: "size-antialias" (timm's `resample_abs_pos_embed`);
 * - Hugging Face ViTModel: "size" (transformers' current `interpolate_pos_encoding`: bicubic to
 *   `size=(h, w)`, no antialias);
 * - Hugging Face Dinov2Model: "scale-offset" — transformers' Dinov2 code as released up to the 4.4x
 *   series interpolates with `scale_factor` and the +0.1 offset of the original DINOv2 code; this
 *   is the behaviour chosen (pass `interpolation` to follow another version).
 * @module
 */
import { applyTokenGrids, loadModelFile } from "./model_file.ts";
import { type MixerConfig, MlpMixer } from "../nn/mixer.ts";
import { type PositionInterpolation, VisionTransformer, type VitConfig } from "../nn/vit.ts";
import { readPthFile } from "./pth.ts";
import { CheckpointError, readSafetensorsFile } from "./safetensors.ts";
import { type HostTensor, toFloat32 } from "../tensor/host.ts";

/** The key layouts understood. */
export type CheckpointLayout =
  | "dino"
  | "dinov2"
  | "timm-vit"
  | "timm-mixer"
  | "hf-vit"
  | "hf-dinov2"
  | "dinogpu";

/** Options of `loadModel`. */
export interface LoadModelOptions {
  /** Model family: "auto" (default) decides from the keys. */
  arch?: "auto" | "vit" | "mixer";
  /** Attention heads; default from config.json, else embedDim / 64. */
  heads?: number;
  /** Position-embedding interpolation; default per layout (see the module documentation). */
  interpolation?: PositionInterpolation;
  /** Which state dict a DINO training checkpoint gives (default "teacher"). */
  prefer?: "teacher" | "student";
  /**
   * Grid sides an MLP-Mixer's token mixing was grown through (first = the original, last = the
   * weights' grid): its tokens are then reordered after the stem as in training. dinogpu's own
   * files record them (`token_grids`); this is for its state dicts read otherwise.
   */
  tokenGrids?: readonly number[];
}

/** A model with its weights loaded, in eval mode. */
export interface LoadedModel {
  /** The model. */
  model: VisionTransformer | MlpMixer;
  /** "vit" or "mixer". */
  kind: "vit" | "mixer";
  /** The key layout recognised. */
  layout: CheckpointLayout;
  /** The weights file read. */
  file: string;
  /** Keys of the checkpoint left out on purpose (DINO projection head, ViT pooler/classifier). */
  dropped: string[];
}

/** A checkpoint's tensors and the Hugging Face config beside it, if any. */
export interface CheckpointContents {
  /** Tensors by their names in the file (prefixes `module.`/`backbone.` removed for .pth). */
  state: Map<string, HostTensor>;
  /** Parsed config.json next to the weights, when present. */
  config?: Record<string, unknown>;
  /** The weights file read. */
  file: string;
}

function join(folder: string, name: string): string {
  return folder.endsWith("/") ? folder + name : `${folder}/${name}`;
}

function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

async function readConfig(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed;
  } catch (error) {
    throw new CheckpointError(`${path}: not valid JSON: ${(error as Error).message}`);
  }
  throw new CheckpointError(`${path}: expected a JSON object`);
}

/**
 * Reads a weights file (.pth/.pt/.bin zip archive or .safetensors) or a Hugging Face folder
 * (model.safetensors + config.json). Every error names the file.
 */
export async function readCheckpoint(
  path: string,
  options: Pick<LoadModelOptions, "prefer"> = {},
): Promise<CheckpointContents> {
  let file = path;
  if (await isDirectory(path)) {
    file = join(path, "model.safetensors");
    try {
      await Deno.stat(file);
    } catch {
      throw new CheckpointError(`${path}: a folder without model.safetensors`);
    }
  }
  const config = file.endsWith(".safetensors")
    ? await readConfig(join(dirname(file), "config.json"))
    : undefined;
  if (file.endsWith(".safetensors")) {
    const { tensors } = await readSafetensorsFile(file);
    return { state: tensors, config, file };
  }
  const state = await readPthFile(file, { prefer: options.prefer });
  return { state, config, file };
}

function shapeOf(state: Map<string, HostTensor>, key: string): number[] | undefined {
  return state.get(key)?.shape;
}

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

/** The layout of a state dict (HF names before mapping; official names otherwise). */
export function detectLayout(
  state: Map<string, HostTensor>,
  config?: Record<string, unknown>,
): CheckpointLayout {
  const keys = [...state.keys()];
  const hf = keys.some((k) => /^((vit|dinov2)\.)?(embeddings\.|encoder\.layer\.)/.test(k));
  if (hf) {
    const type = String(config?.model_type ?? "");
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

function blockCount(state: Map<string, HostTensor>): number {
  let depth = 0;
  for (const key of state.keys()) {
    const match = /^blocks\.(\d+)\./.exec(key);
    if (match) depth = Math.max(depth, Number(match[1]) + 1);
  }
  return depth;
}

function requireShape(
  state: Map<string, HostTensor>,
  file: string,
  key: string,
  rank: number,
): number[] {
  const shape = shapeOf(state, key);
  if (!shape) throw new CheckpointError(`${file}: missing key ${key}`);
  if (shape.length !== rank) {
    throw new CheckpointError(
      `${file}: ${key} has shape [${shape.join(", ")}], expected ${rank} dimensions`,
    );
  }
  return shape;
}

function numberFrom(config: Record<string, unknown> | undefined, key: string): number | undefined {
  const value = config?.[key];
  return typeof value === "number" ? value : undefined;
}

/**
 * The ViT configuration a state dict with official names implies: patch from the stem kernel,
 * width from the CLS token, depth from the block count, heads from `heads`, the config or
 * width / 64; registers, LayerScale, SwiGLU, mask token and the position grid from their keys.
 */
export function inferVitConfig(
  state: Map<string, HostTensor>,
  layout: CheckpointLayout,
  options: { heads?: number; interpolation?: PositionInterpolation; file?: string } = {},
  config?: Record<string, unknown>,
): Partial<VitConfig> {
  const file = options.file ?? "checkpoint";
  const [embedDim, inChannels, patchH, patchW] = requireShape(
    state,
    file,
    "patch_embed.proj.weight",
    4,
  );
  if (patchH !== patchW) {
    throw new CheckpointError(
      `${file}: patch_embed.proj.weight has a ${patchH}x${patchW} kernel; only square patches`,
    );
  }
  const depth = blockCount(state);
  if (depth === 0) throw new CheckpointError(`${file}: no blocks.N.* keys`);
  const position = requireShape(state, file, "pos_embed", 3);
  const side = Math.round(Math.sqrt(position[1] - 1));
  if (side * side !== position[1] - 1 || position[2] !== embedDim) {
    throw new CheckpointError(
      `${file}: pos_embed [${position.join(", ")}] is not 1 + a square grid of width ${embedDim}`,
    );
  }
  const heads = options.heads ?? numberFrom(config, "num_attention_heads") ?? embedDim / 64;
  if (!Number.isInteger(heads) || heads < 1 || embedDim % heads !== 0) {
    throw new CheckpointError(
      `${file}: cannot split width ${embedDim} into heads (got ${heads}); pass --heads`,
    );
  }
  const swiglu = state.has("blocks.0.mlp.w12.weight");
  const hiddenShape = requireShape(
    state,
    file,
    swiglu ? "blocks.0.mlp.w3.weight" : "blocks.0.mlp.fc1.weight",
    2,
  );
  const feedForwardHidden = swiglu ? hiddenShape[1] : hiddenShape[0];
  const registers = shapeOf(state, "register_tokens")?.[1] ?? 0;
  const defaultInterpolation: PositionInterpolation = layout === "hf-vit"
    ? "size"
    : registers > 0 || layout === "timm-vit"
    ? "size-antialias"
    : "scale-offset";
  const eps = numberFrom(config, "layer_norm_eps") ?? (layout === "hf-vit" ? 1e-12 : 1e-6);
  return {
    imageSize: side * patchH,
    patchSize: patchH,
    inChannels,
    embedDim,
    depth,
    heads,
    mlpRatio: feedForwardHidden / embedDim,
    feedForwardHidden,
    qkvBias: state.has("blocks.0.attn.qkv.bias"),
    layerScaleInit: state.has("blocks.0.ls1.gamma") ? 1 : undefined,
    registers,
    feedForward: swiglu ? "swiglu" : "mlp",
    dropPathRate: 0,
    eps,
    interpolation: options.interpolation ?? defaultInterpolation,
    maskToken: state.has("mask_token"),
  };
}

/** The Mixer configuration a timm state dict implies (widths from the first block). */
export function inferMixerConfig(
  state: Map<string, HostTensor>,
  file = "checkpoint",
): Partial<MixerConfig> {
  const [embedDim, inChannels, patchH, patchW] = requireShape(state, file, "stem.proj.weight", 4);
  if (patchH !== patchW) {
    throw new CheckpointError(`${file}: stem.proj.weight has a ${patchH}x${patchW} kernel`);
  }
  const depth = blockCount(state);
  if (depth === 0) throw new CheckpointError(`${file}: no blocks.N.* keys`);
  const [tokenHidden, tokens] = requireShape(state, file, "blocks.0.mlp_tokens.fc1.weight", 2);
  const [channelHidden] = requireShape(state, file, "blocks.0.mlp_channels.fc1.weight", 2);
  const side = Math.round(Math.sqrt(tokens));
  if (side * side !== tokens) {
    throw new CheckpointError(`${file}: ${tokens} tokens is not a square grid`);
  }
  return {
    imageSize: side * patchH,
    patchSize: patchH,
    inChannels,
    embedDim,
    depth,
    tokenHidden,
    channelHidden,
    classes: shapeOf(state, "head.weight")?.[0] ?? 0,
    eps: 1e-6,
  };
}

/**
 * Builds the model a state dict describes and loads it (strict: unknown keys and shape mismatches
 * are listed in the error). `file` names the source in errors.
 */
export function loadModelFromState(
  raw: Map<string, HostTensor>,
  options: LoadModelOptions & { file?: string; config?: Record<string, unknown> } = {},
): LoadedModel {
  const file = options.file ?? "checkpoint";
  const layout = detectLayout(raw, options.config);
  let state = raw;
  const dropped: string[] = [];
  if (layout === "hf-vit" || layout === "hf-dinov2") {
    const mapped = mapHuggingFaceKeys(raw, file);
    state = mapped.state;
    dropped.push(...mapped.dropped);
  }
  const kind = options.arch && options.arch !== "auto"
    ? options.arch
    : layout === "timm-mixer"
    ? "mixer"
    : "vit";
  if (kind === "vit") {
    // DINO projection heads (head.mlp.*, head.last_layer.*) and timm classifiers are no backbone.
    const kept = new Map<string, HostTensor>();
    for (const [key, value] of state) {
      if (/^(head|fc_norm|head_drop)\./.test(key) || /^(head|fc_norm)$/.test(key)) {
        dropped.push(key);
      } else kept.set(key, value);
    }
    state = kept;
    if (!state.has("patch_embed.proj.weight")) {
      throw new CheckpointError(
        `${file}: not a ViT checkpoint (no patch_embed.proj.weight or HF embeddings; keys: ${
          [...raw.keys()].slice(0, 8).join(", ")
        }${raw.size > 8 ? ", ..." : ""})`,
      );
    }
  } else if (!state.has("stem.proj.weight")) {
    throw new CheckpointError(
      `${file}: not an MLP-Mixer checkpoint (no stem.proj.weight; keys: ${
        [...raw.keys()].slice(0, 8).join(", ")
      }${raw.size > 8 ? ", ..." : ""})`,
    );
  }
  const model = kind === "vit"
    ? new VisionTransformer(inferVitConfig(state, layout, { ...options, file }, options.config))
    : new MlpMixer(inferMixerConfig(state, file));
  try {
    model.loadStateDict(state);
  } catch (error) {
    model.dispose();
    throw new CheckpointError(`${file}: ${(error as Error).message}`);
  }
  if (options.tokenGrids && model instanceof MlpMixer) {
    try {
      applyTokenGrids(model, options.tokenGrids, file);
    } catch (error) {
      model.dispose();
      throw error;
    }
  }
  model.eval();
  return { model, kind, layout, file, dropped };
}

/**
 * Reads weights (a .pth / .safetensors file or a Hugging Face folder) and returns the model they
 * describe with them loaded, in eval mode. Errors name the file and list unknown keys and shape
 * mismatches.
 */
export async function loadModel(
  path: string,
  options: LoadModelOptions = {},
): Promise<LoadedModel> {
  if (await isDinogpuFile(path)) {
    const loaded = await loadModelFile(path);
    return {
      model: loaded.model,
      kind: loaded.arch,
      layout: "dinogpu",
      file: loaded.path,
      dropped: [],
    };
  }
  const { state, config, file } = await readCheckpoint(path, options);
  return loadModelFromState(state, { ...options, file, config });
}

/** Whether `path` is dinogpu's own weight file or training checkpoint folder. */
async function isDinogpuFile(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) {
      for (const name of ["latest", "checkpoint.json"]) {
        if (await Deno.stat(`${path}/${name}`).then(() => true, () => false)) return true;
      }
      return false;
    }
    if (!path.endsWith(".safetensors")) return false;
    const file = await Deno.open(path);
    try {
      const head = new Uint8Array(8);
      if ((await file.read(head)) !== 8) return false;
      const length = Number(new DataView(head.buffer).getBigUint64(0, true));
      if (length > 100_000_000) return false;
      const header = new Uint8Array(length);
      let read = 0;
      while (read < length) {
        const n = await file.read(header.subarray(read));
        if (n === null) return false;
        read += n;
      }
      const metadata = JSON.parse(new TextDecoder().decode(header)).__metadata__ ?? {};
      return typeof metadata.arch === "string" && typeof metadata.config === "string";
    } finally {
      file.close();
    }
  } catch {
    return false;
  }
}
