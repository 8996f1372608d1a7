/**
 * Weights from bytes rather than paths (a browser's `File`, a `fetch`): every format `loadModel`
 * reads from disk that one buffer can hold — a `.safetensors` file with official or Hugging Face
 * names (plus its `config.json`, given as an object), an official DINO / DINOv2 / DINOv3 `.pth`
 * (torch.save zip archive, read by the restricted unpickler), a DINO training checkpoint, and
 * dinogpu's own weight files. The format is told by the bytes, not the file name. Nothing here
 * touches the file system, so it runs in the browser.
 *
 * Reading (`readWeights`, CPU) and building the model (`modelFromWeights`, GPU upload) are apart,
 * so a page can report each step and rebuild the model (another head count) without reading again.
 * @module
 */
import { readPth } from "../pth.ts";
import { CheckpointError, readSafetensors, type Safetensors } from "../safetensors.ts";
import type { HostTensor } from "../../tensor/host.ts";
import { type CheckpointLayout, detectLayout, unchunkBlockKeys } from "./layouts.ts";
import { type LoadedModel, loadModelFromState, type LoadModelOptions } from "./load.ts";
import { isModelFileMetadata, modelFromSafetensors } from "./model_file.ts";

/** What the first bytes of a weights file say it is. */
export type WeightsFormat = "safetensors" | "pth" | "legacy-pickle" | "unknown";

/** Where a head count comes from: stored in the file, or assumed from the width. */
export type HeadsSource =
  | "dinogpu file"
  | "config.json"
  | "RoPE periods"
  | "width / 64"
  | "guess";

/** A weights file read into host memory, before any model exists. */
export interface WeightsContents {
  /** The name used in errors (the file's name). */
  name: string;
  /** "safetensors" or "pth". */
  format: "safetensors" | "pth";
  /** The key layout ("dinogpu" for dinogpu's own weight files). */
  layout: CheckpointLayout;
  /** The tensors by their names in the file (for .pth: prefixes `module.`/`backbone.` removed). */
  state: Map<string, HostTensor>;
  /** The Hugging Face config given with the weights, when there was one. */
  config?: Record<string, unknown>;
  /** The safetensors contents of a dinogpu weight file (its metadata holds the configuration). */
  modelFile?: Safetensors;
  /** Width of the backbone (the CLS token's size; a Mixer's stem width). */
  width: number;
  /** "vit" or "mixer" (from the keys, or a dinogpu file's metadata). */
  arch: "vit" | "mixer";
  /** The head count the file records, and where; absent when it does not (official .pth). */
  heads?: { count: number; source: HeadsSource };
}

/** A model built by `modelFromWeights`, and the head count it was built with. */
export interface WeightsModel extends LoadedModel {
  /** Heads of the ViT (0 for a Mixer) and where the count came from ("option" when given). */
  heads: { count: number; source: HeadsSource | "option" };
}

/** Tells a weights file's format from its first bytes (a zip archive is a torch.save file). */
export function weightsFormat(bytes: Uint8Array): WeightsFormat {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b) {
    if ((bytes[2] === 3 && bytes[3] === 4) || (bytes[2] === 5 && bytes[3] === 6)) return "pth";
  }
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] <= 5) return "legacy-pickle";
  if (bytes.length >= 9) {
    const length = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
    if (length >= 2n && length <= BigInt(bytes.length - 8) && bytes[8] === 0x7b) {
      return "safetensors";
    }
  }
  return "unknown";
}

function startText(bytes: Uint8Array): string {
  const head = [...bytes.subarray(0, 8)];
  const hex = head.map((b) => b.toString(16).padStart(2, "0")).join(" ");
  const text = head.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
  return `${hex} ("${text}")`;
}

/**
 * Parses a Hugging Face `config.json`'s text into an object; `name` names it in errors (which say
 * what was wrong with the JSON).
 */
export function parseConfigJson(text: string, name = "config.json"): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(`${name}: not valid JSON: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new CheckpointError(`${name}: expected a JSON object, got ${JSON.stringify(parsed)}`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * The head count assumed for a ViT `width` wide whose file does not record it (official DINO and
 * DINOv2 `.pth` files): width / 64 when whole (every released DINO, DINOv2 and DINOv3 ViT but
 * DINOv3 7B has 64-wide heads), else the most heads at least 16 channels wide ("guess").
 */
export function assumedHeads(width: number): { count: number; source: HeadsSource } {
  if (width % 64 === 0) return { count: width / 64, source: "width / 64" };
  for (let count = Math.floor(width / 16); count > 1; count--) {
    if (width % count === 0) return { count, source: "guess" };
  }
  return { count: 1, source: "guess" };
}

function widthOf(state: Map<string, HostTensor>, name: string): number {
  for (const [key, value] of state) {
    if (/(^|\.)cls_token$/.test(key)) return value.shape.at(-1)!;
  }
  for (const [key, value] of state) {
    if (/(patch_embed\.proj|patch_embeddings(\.projection)?|stem\.proj)\.weight$/.test(key)) {
      return value.shape[0];
    }
  }
  throw new CheckpointError(
    `${name}: no CLS token or patch embedding: not the weights of a ViT or MLP-Mixer (keys: ${
      [...state.keys()].slice(0, 8).join(", ")
    }${state.size > 8 ? ", ..." : ""})`,
  );
}

function storedHeads(
  state: Map<string, HostTensor>,
  layout: CheckpointLayout,
  width: number,
  config?: Record<string, unknown>,
): { count: number; source: HeadsSource } | undefined {
  const configured = config?.num_attention_heads;
  if (typeof configured === "number") return { count: configured, source: "config.json" };
  const periods = state.get("rope_embed.periods")?.shape[0];
  if (layout === "dinov3" && periods) {
    return { count: width / (4 * periods), source: "RoPE periods" };
  }
  return undefined;
}

/**
 * Reads weights from their bytes (CPU only): a safetensors file (dinogpu's own when its metadata
 * holds `arch` and `config`; else official, timm or Hugging Face names, with `config` the parsed
 * config.json given with it) or a torch.save `.pth` archive (`prefer` picks a DINO training
 * checkpoint's teacher or student). Every error starts with `name` and says what failed.
 */
export async function readWeights(
  bytes: Uint8Array,
  options: { name?: string; config?: Record<string, unknown>; prefer?: "teacher" | "student" } = {},
): Promise<WeightsContents> {
  const name = options.name ?? "weights";
  const format = weightsFormat(bytes);
  const named = (error: unknown) =>
    error instanceof CheckpointError ? new CheckpointError(`${name}: ${error.message}`) : error;
  if (format === "unknown") {
    throw new CheckpointError(
      bytes.length === 0 ? `${name}: the file is empty` : `${name}: neither a safetensors file ` +
        `nor a torch.save .pth archive: it starts with ${startText(bytes)}`,
    );
  }
  if (format === "legacy-pickle" || format === "pth") {
    let state: Map<string, HostTensor>;
    try {
      state = await readPth(bytes, { prefer: options.prefer });
    } catch (error) {
      throw named(error);
    }
    state = unchunkBlockKeys(state, name);
    const layout = detectLayout(state);
    const width = widthOf(state, name);
    return {
      name,
      format: "pth",
      layout,
      state,
      width,
      arch: layout === "timm-mixer" ? "mixer" : "vit",
      heads: storedHeads(state, layout, width),
    };
  }
  let contents: Safetensors;
  try {
    contents = readSafetensors(bytes);
  } catch (error) {
    throw named(error);
  }
  if (isModelFileMetadata(contents.metadata)) {
    let config: Record<string, unknown>;
    try {
      config = parseConfigJson(contents.metadata.config, "its config metadata");
    } catch (error) {
      throw named(error);
    }
    const arch = contents.metadata.arch === "mixer" ? "mixer" : "vit";
    const width = Number(config.embedDim);
    const heads = Number(config.heads);
    return {
      name,
      format: "safetensors",
      layout: "dinogpu",
      state: contents.tensors,
      modelFile: contents,
      width,
      arch,
      heads: arch === "vit" ? { count: heads, source: "dinogpu file" } : undefined,
    };
  }
  const state = unchunkBlockKeys(contents.tensors, name);
  const layout = detectLayout(state, options.config);
  const width = widthOf(state, name);
  return {
    name,
    format: "safetensors",
    layout,
    state,
    config: options.config,
    width,
    arch: layout === "timm-mixer" ? "mixer" : "vit",
    heads: storedHeads(state, layout, width, options.config),
  };
}

/**
 * Builds the model `weights` describe and uploads them (GPU): `heads` as `options.heads`, else
 * as the file records them, else `assumedHeads(width)` (a dinogpu file's own configuration always
 * wins: `options` do not apply to it). Errors start with the file's name.
 */
export function modelFromWeights(
  weights: WeightsContents,
  options: Omit<LoadModelOptions, "prefer"> = {},
): WeightsModel {
  if (weights.modelFile) {
    const loaded = modelFromSafetensors(weights.modelFile, weights.name);
    return {
      model: loaded.model,
      kind: loaded.arch,
      layout: "dinogpu",
      file: weights.name,
      dropped: [],
      heads: loaded.arch === "vit" ? weights.heads! : { count: 0, source: "dinogpu file" },
    };
  }
  const heads = options.heads !== undefined
    ? { count: options.heads, source: "option" as const }
    : weights.heads ?? assumedHeads(weights.width);
  const loaded = loadModelFromState(weights.state, {
    ...options,
    heads: weights.arch === "vit" ? heads.count : undefined,
    file: weights.name,
    config: weights.config,
  });
  return { ...loaded, heads: loaded.kind === "vit" ? heads : { count: 0, source: heads.source } };
}

/** `readWeights` then `modelFromWeights`: the model of a weights file's bytes, loaded. */
export async function loadModelFromBytes(
  bytes: Uint8Array,
  options: LoadModelOptions & { name?: string; config?: Record<string, unknown> } = {},
): Promise<WeightsModel> {
  return modelFromWeights(await readWeights(bytes, options), options);
}
