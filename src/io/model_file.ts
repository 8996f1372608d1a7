/**
 * A minimal loader of dinogpu's own weight files for evaluation: a safetensors file whose
 * metadata holds `arch` ("vit" or "mixer") and `config` (the backbone's JSON configuration), with
 * the backbone's parameters under their module names, optionally behind a `teacher.backbone.` or
 * `backbone.` prefix (the teacher is preferred when a training checkpoint holds both). A training
 * checkpoint folder is accepted too: its `latest` pointer, or its `checkpoint.safetensors`.
 * @module
 */
import { CheckpointError, type HostTensor, readSafetensorsFile } from "./safetensors.ts";
import { type MixerConfig, MlpMixer } from "../nn/mixer.ts";
import { VisionTransformer, type VitConfig } from "../nn/vit.ts";

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
  const { tensors, metadata } = await readSafetensorsFile(file);
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
  const model = arch === "vit"
    ? new VisionTransformer(
      { ...(config as Partial<VitConfig>), dropPathRate: 0 } as Partial<VitConfig>,
    )
    : new MlpMixer(config as Partial<MixerConfig>);
  const names = model.namedParameters().map(([name]) => name);
  const prefix = BACKBONE_PREFIXES.find((candidate) =>
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
  for (const parameter of model.parameters()) parameter.requiresGrad = false;
  model.eval();
  return { model, arch, path: file, prefix };
}
