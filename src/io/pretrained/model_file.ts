/**
 * A minimal loader of dinogpu's own weight files for evaluation: a safetensors file whose
 * metadata holds `arch` ("vit" or "mixer") and `config` (the backbone's JSON configuration), with
 * the backbone's parameters under their module names, optionally behind a `teacher.backbone.` or
 * `backbone.` prefix (the teacher is preferred when a training checkpoint holds both). A training
 * checkpoint folder is accepted too: its `latest` pointer, or its `checkpoint.safetensors`.
 *
 * A Mixer grown by the resolution curriculum also records `token_grids` (JSON array of the grid
 * sides its token mixing went through, first = the original, e.g. "[4,8]"): its tokens are
 * reordered after the stem by `blockTokenOrder` of those grids, which loading restores. Files
 * without it load as an ungrown Mixer.
 * @module
 */
import { blockTokenOrder, type MixerConfig, MlpMixer } from "../../nn/mixer.ts";
import { VisionTransformer, type VitConfig } from "../../nn/vit.ts";
import type { HostTensor } from "../../tensor/host.ts";
import { CheckpointError, readSafetensorsFile, type Safetensors } from "../safetensors.ts";

/**
 * Metadata key of the tensor-name prefix of the backbone to evaluate, when a file holds more than
 * one (a distillation checkpoint: "student.backbone.", its teacher being the frozen model).
 */
export const BACKBONE_PREFIX_KEY = "backbone_prefix";

/** Metadata key of the grid sides a Mixer's token mixing was grown through. */
export const TOKEN_GRIDS_KEY = "token_grids";

/**
 * The safetensors metadata that lets `loadModelFile` rebuild `backbone`: `arch`, `config` (JSON)
 * and, for a Mixer, `token_grids` (JSON array of its `tokenGrids`). A grown Mixer's token-mixing
 * hidden width is read from its weights (growth multiplies it; `config.tokenHidden` keeps the
 * original).
 */
export function modelFileMetadata(backbone: VisionTransformer | MlpMixer): Record<string, string> {
  if (backbone instanceof VisionTransformer) {
    return { arch: "vit", config: JSON.stringify(backbone.config) };
  }
  const tokenHidden = backbone.blocks[0]?.mlpTokens.fc1.weight.shape[0] ??
    backbone.config.tokenHidden;
  return {
    arch: "mixer",
    config: JSON.stringify({ ...backbone.config, tokenHidden }),
    [TOKEN_GRIDS_KEY]: JSON.stringify(backbone.tokenGrids),
  };
}

/**
 * Parses the `token_grids` metadata value (`undefined` when absent). `file` names the source in
 * errors.
 */
export function parseTokenGrids(text: string | undefined, file: string): number[] | undefined {
  if (text === undefined) return undefined;
  let grids: unknown;
  try {
    grids = JSON.parse(text);
  } catch {
    throw new CheckpointError(`${file}: ${TOKEN_GRIDS_KEY} is not JSON: ${JSON.stringify(text)}`);
  }
  if (
    !Array.isArray(grids) || grids.length === 0 ||
    !grids.every((side) => Number.isInteger(side) && side > 0)
  ) {
    throw new CheckpointError(
      `${file}: ${TOKEN_GRIDS_KEY} must be a non-empty array of positive whole grid sides, got ${text}`,
    );
  }
  return grids as number[];
}

/**
 * Puts `mixer` in the token order of a Mixer grown through `grids` (first = the original grid
 * side, last = the configuration's): `setTokenOrder(grids, blockTokenOrder(grids))`. `file` names
 * the source in errors.
 */
export function applyTokenGrids(mixer: MlpMixer, grids: readonly number[], file: string): void {
  const { imageSize, patchSize } = mixer.config;
  const grid = Math.floor(imageSize / patchSize);
  if (grids.length === 0 || grids.at(-1) !== grid) {
    throw new CheckpointError(
      `${file}: ${TOKEN_GRIDS_KEY} [${grids.join(", ")}] must end at the model's grid ${grid} ` +
        `(image ${imageSize}, patch ${patchSize})`,
    );
  }
  let order: Int32Array;
  try {
    order = blockTokenOrder(grids);
  } catch (error) {
    throw new CheckpointError(
      `${file}: ${TOKEN_GRIDS_KEY} [${grids.join(", ")}]: ${(error as Error).message}`,
    );
  }
  mixer.setTokenOrder([...grids], order);
}

/** A loaded backbone and where its weights came from. */
export interface ModelFile {
  /** The backbone, in evaluation mode. */
  model: VisionTransformer | MlpMixer;
  /** "vit" or "mixer". */
  arch: "vit" | "mixer";
  /** The safetensors file read. */
  path: string;
  /** The tensor-name prefix the backbone was found under ("" for none). */
  prefix: string;
}

/** Prefixes tried in order. */
export const BACKBONE_PREFIXES: readonly string[] = ["teacher.backbone.", "backbone.", ""];

async function resolveFile(path: string): Promise<string> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    throw new CheckpointError(`${path}: cannot read: ${(error as Error).message}`);
  }
  if (!info.isDirectory) return path;
  let folder = path;
  try {
    folder = `${path}/${(await Deno.readTextFile(`${path}/latest`)).trim()}`;
  } catch {
    // a checkpoint folder given directly
  }
  const file = `${folder}/checkpoint.safetensors`;
  try {
    await Deno.stat(file);
  } catch {
    throw new CheckpointError(
      `${path} is a folder without a checkpoint (no "latest" pointer, no checkpoint.safetensors)`,
    );
  }
  return file;
}

/**
 * Loads the backbone stored in `path` (a safetensors file or a training checkpoint folder) onto
 * the GPU. Errors name the file and say what is missing (metadata, parameters, shapes).
 */
export async function loadModelFile(path: string): Promise<ModelFile> {
  const file = await resolveFile(path);
  return modelFromSafetensors(await readSafetensorsFile(file), file);
}

/** Whether safetensors metadata is that of dinogpu's own weight file (`arch` and `config`). */
export function isModelFileMetadata(metadata: Record<string, string>): boolean {
  return typeof metadata.arch === "string" && typeof metadata.config === "string";
}

/**
 * The backbone of a dinogpu weight file already read (its tensors and metadata), on the GPU, as
 * `loadModelFile` gives it; `file` names the source in errors and becomes `path`. Works from bytes
 * (`readSafetensors`), in the browser too.
 */
export function modelFromSafetensors(contents: Safetensors, file: string): ModelFile {
  const { tensors, metadata } = contents;
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(metadata.config ?? "");
  } catch {
    throw new CheckpointError(
      `${file}: no model configuration in its metadata (want "config" JSON and "arch"; ` +
        `metadata keys: ${Object.keys(metadata).join(", ") || "none"})`,
    );
  }
  const arch = metadata.arch ??
    ("heads" in config ? "vit" : "tokenHidden" in config ? "mixer" : "");
  if (arch !== "vit" && arch !== "mixer") {
    throw new CheckpointError(`${file}: unknown arch "${arch}" (want "vit" or "mixer")`);
  }
  const grids = parseTokenGrids(metadata[TOKEN_GRIDS_KEY], file);
  const model = arch === "vit"
    ? new VisionTransformer(
      { ...(config as Partial<VitConfig>), dropPathRate: 0 } as Partial<VitConfig>,
    )
    : new MlpMixer(config as Partial<MixerConfig>);
  const names = model.namedParameters().map(([name]) => name);
  const named = metadata[BACKBONE_PREFIX_KEY];
  const prefix = [...(named !== undefined ? [named] : []), ...BACKBONE_PREFIXES].find((candidate) =>
    names.every((name) => tensors.has(candidate + name))
  );
  if (prefix === undefined) {
    model.dispose();
    const missing = names.filter((name) => !tensors.has(name)).slice(0, 5);
    throw new CheckpointError(
      `${file}: the ${arch} parameters are not there under any of the prefixes ` +
        `${BACKBONE_PREFIXES.map((p) => JSON.stringify(p)).join(", ")} (e.g. missing ` +
        `${missing.join(", ")})`,
    );
  }
  const state = new Map<string, HostTensor>();
  for (const name of names) state.set(name, tensors.get(prefix + name)!);
  try {
    model.loadStateDict(state);
  } catch (error) {
    model.dispose();
    throw new CheckpointError(`${file}: ${(error as Error).message}`);
  }
  if (grids && model instanceof MlpMixer) {
    try {
      applyTokenGrids(model, grids, file);
    } catch (error) {
      model.dispose();
      throw error;
    }
  }
  for (const parameter of model.parameters()) parameter.requiresGrad = false;
  model.eval();
  return { model, arch, path: file, prefix };
}

/** Whether `path` is dinogpu's own weight file or training checkpoint folder. */
export async function isModelFile(path: string): Promise<boolean> {
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
      return isModelFileMetadata(JSON.parse(new TextDecoder().decode(header)).__metadata__ ?? {});
    } finally {
      file.close();
    }
  } catch {
    return false;
  }
}
