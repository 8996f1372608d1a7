/**
 * Loading pretrained weights into dinogpu models: any layout of src/io/pretrained/layouts.ts, with
 * the architecture read from the keys and shapes (architecture.ts; DINOv3: dinov3.ts), or
 * dinogpu's own weight files and training checkpoint folders (model_file.ts).
 * @module
 */
import { MlpMixer } from "../../nn/mixer.ts";
import { type PositionInterpolation, VisionTransformer } from "../../nn/vit.ts";
import { CheckpointError } from "../safetensors.ts";
import type { HostTensor } from "../../tensor/host.ts";
import { inferMixerConfig, inferVitConfig } from "./architecture.ts";
import { inferDinov3Config, mapDinov3Keys, withFileNames } from "./dinov3.ts";
import {
  type CheckpointLayout,
  detectLayout,
  mapHuggingFaceKeys,
  unchunkBlockKeys,
} from "./layouts.ts";
import { applyTokenGrids, isModelFile, loadModelFile } from "./model_file.ts";
import { readCheckpoint } from "./read.ts";

/** Options of `loadModel`. */
export interface LoadModelOptions {
  /** Model family: "auto" (default) decides from the keys. */
  arch?: "auto" | "vit" | "mixer";
  /** Attention heads; default from config.json, else embedDim / 64. */
  heads?: number;
  /** Position-embedding interpolation; default per layout (see pretrained/architecture.ts). */
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

/**
 * Builds the model a state dict describes and loads it (strict: unknown keys and shape mismatches
 * are listed in the error). Chunked blocks (`blocks.C.N.*`, DINOv2 training checkpoints) are
 * renamed first (`unchunkBlockKeys`). `file` names the source in errors.
 */
export function loadModelFromState(
  raw: Map<string, HostTensor>,
  options: LoadModelOptions & { file?: string; config?: Record<string, unknown> } = {},
): LoadedModel {
  const file = options.file ?? "checkpoint";
  const unchunked = unchunkBlockKeys(raw, file);
  const layout = detectLayout(unchunked, options.config);
  let state = unchunked;
  const dropped: string[] = [];
  let periods: number[] | undefined;
  let renamed = new Map<string, string>();
  const dinov3 = layout === "dinov3" || layout === "hf-dinov3";
  if (dinov3) {
    const mapped = mapDinov3Keys(unchunked, layout, file);
    state = mapped.state;
    dropped.push(...mapped.dropped);
    periods = mapped.periods;
    renamed = mapped.renamed;
  } else if (layout === "hf-vit" || layout === "hf-dinov2") {
    const mapped = mapHuggingFaceKeys(unchunked, file);
    state = mapped.state;
    dropped.push(...mapped.dropped);
  }
  const kind = options.arch && options.arch !== "auto"
    ? options.arch
    : layout === "timm-mixer"
    ? "mixer"
    : "vit";
  if (kind === "vit") {
    // DINO projection heads (head.mlp.*, head.last_layer.*; DINOv2's dino_head.*, ibot_head.*)
    // and timm classifiers are no backbone.
    const kept = new Map<string, HostTensor>();
    for (const [key, value] of state) {
      if (
        /^(head|fc_norm|head_drop|dino_head|ibot_head)\./.test(key) || /^(head|fc_norm)$/.test(key)
      ) {
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
  const model = kind === "mixer"
    ? new MlpMixer(inferMixerConfig(state, file))
    : new VisionTransformer(
      dinov3
        ? inferDinov3Config(
          { state, dropped, periods, renamed },
          { ...options, file },
          options.config,
        )
        : inferVitConfig(state, layout, { ...options, file }, options.config),
    );
  try {
    model.loadStateDict(state);
  } catch (error) {
    model.dispose();
    throw new CheckpointError(`${file}: ${withFileNames((error as Error).message, renamed)}`);
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
  if (await isModelFile(path)) {
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
