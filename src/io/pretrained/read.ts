/**
 * Reading downloaded weights: a `.pth` / `.pt` / `.bin` zip archive, a `.safetensors` file, or a
 * Hugging Face folder (`model.safetensors` + `config.json`), as a state dict of host tensors.
 * @module
 */
import { readPthFile } from "../pth.ts";
import { CheckpointError, readSafetensorsFile } from "../safetensors.ts";
import type { HostTensor } from "../../tensor/host.ts";
import { unchunkBlockKeys } from "./layouts.ts";

/** A checkpoint's tensors and the Hugging Face config beside it, if any. */
export interface CheckpointContents {
  /**
   * Tensors by their names in the file (prefixes `module.`/`backbone.` removed for .pth; chunked
   * `blocks.C.N.*` renamed `blocks.N.*`).
   */
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
 * (model.safetensors + config.json). `prefer` picks the state dict of a DINO training checkpoint
 * (default "teacher"). DINOv2 training checkpoints' chunked blocks (`blocks.C.N.*`) are renamed
 * `blocks.N.*` (`unchunkBlockKeys`). Every error names the file.
 */
export async function readCheckpoint(
  path: string,
  options: { prefer?: "teacher" | "student" } = {},
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
    return { state: unchunkBlockKeys(tensors, file), config, file };
  }
  const state = await readPthFile(file, { prefer: options.prefer });
  return { state: unchunkBlockKeys(state, file), config, file };
}
