/**
 * PyTorch checkpoints (`.pth`, `.pt`) as written by `torch.save` since PyTorch 1.6: a zip archive
 * holding `<name>/data.pkl` (the pickled object) and `<name>/data/<key>` (one entry per storage).
 * The pickle is decoded by the restricted unpickler of ./unpickle.ts, which never executes
 * anything and refuses every global other than those that rebuild tensors (plus inert
 * `argparse.Namespace` objects, as DINO training checkpoints store under `args`).
 * @module
 */
import { CheckpointError, readCheckpointFile } from "./safetensors.ts";
import { DTYPE_BYTES, type HostTensor, typedView } from "../tensor/host.ts";
import { STORAGE_DTYPES } from "./pickle/torch_globals.ts";
import { unpickle } from "./pickle/unpickle.ts";
import {
  PickleGlobal,
  type PickleValue,
  type TorchStorage,
  UnpickledTensor,
} from "./pickle/values.ts";
import { readEntry, readZip, type ZipArchive } from "./zip.ts";

/** Options of {@link readPth}. */
export interface ReadPthOptions {
  /**
   * Which state dict a DINO training checkpoint gives: "teacher" (default) or "student"; also
   * which keys of a state dict holding both as `teacher.*` and `student.*` (DINOv2's trainer).
   */
  prefer?: "teacher" | "student";
  /** Leading key prefixes removed (repeatedly); default `["module.", "backbone."]`. */
  stripPrefixes?: readonly string[];
  /** Classes decoded as inert objects (see `UnpickleOptions.inertClasses`). */
  inertClasses?: readonly string[];
  /** Check each entry's CRC-32 (default true). */
  verifyCrc?: boolean;
}

/** Keys under which training checkpoints nest their state dict, in the order they are tried. */
export const NESTED_STATE_KEYS: readonly string[] = ["model", "state_dict"];

/**
 * Decodes a torch.save archive into the pickled object, tensors as `UnpickledTensor`s (host
 * tensors), dicts as Maps. Refuses unknown pickle globals and opcodes by name.
 */
export async function readPthObject(
  bytes: Uint8Array,
  options: Pick<ReadPthOptions, "inertClasses" | "verifyCrc"> = {},
): Promise<PickleValue> {
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] <= 5) {
    throw new CheckpointError(
      "pth: this is a bare pickle (the legacy torch.save format before PyTorch 1.6), which is " +
        "not supported: re-save it with a recent torch.save or convert it to safetensors",
    );
  }
  const archive = readZip(bytes);
  const pickleName = [...archive.entries.keys()].find((name) =>
    name.endsWith("data.pkl") && !name.slice(0, -"data.pkl".length).replace(/\/$/, "").includes("/")
  );
  if (!pickleName) {
    throw new CheckpointError(
      `pth: no data.pkl in the archive (entries: ${
        [...archive.entries.keys()].slice(0, 8).join(", ")
      })`,
    );
  }
  const prefix = pickleName.slice(0, -"data.pkl".length);
  const verify = options.verifyCrc ?? true;
  const byteOrderName = `${prefix}byteorder`;
  if (archive.entries.has(byteOrderName)) {
    const order = new TextDecoder().decode(await readEntry(archive, byteOrderName, verify)).trim();
    if (order !== "little") {
      throw new CheckpointError(`pth: byte order "${order}" is not supported`);
    }
  }
  const storages = await loadStorageEntries(archive, prefix, verify);
  const cache = new Map<string, TorchStorage>();
  const persistentLoad = (id: PickleValue): PickleValue => {
    if (!Array.isArray(id) || id[0] !== "storage" || id.length < 5) {
      throw new CheckpointError(`pth: unsupported persistent id ${String(id)}`);
    }
    const [, type, key, , numel] = id;
    if (!(type instanceof PickleGlobal) || !Object.hasOwn(STORAGE_DTYPES, type.name)) {
      throw new CheckpointError(`pth: storage type is not a typed torch storage: ${String(type)}`);
    }
    if (typeof key !== "string" || typeof numel !== "number") {
      throw new CheckpointError(`pth: storage id has key ${String(key)} and size ${String(numel)}`);
    }
    const dtype = STORAGE_DTYPES[type.name];
    const cached = cache.get(key);
    if (cached) {
      if (cached.dtype !== dtype) {
        throw new CheckpointError(`pth: storage ${key} is read as ${cached.dtype} and ${dtype}`);
      }
      return cached;
    }
    const raw = storages.get(key);
    if (!raw) throw new CheckpointError(`pth: storage entry "${prefix}data/${key}" is missing`);
    const need = numel * DTYPE_BYTES[dtype];
    if (raw.length < need) {
      throw new CheckpointError(
        `pth: storage "${prefix}data/${key}" holds ${raw.length} bytes, ${dtype} x ${numel} ` +
          `needs ${need}`,
      );
    }
    const storage: TorchStorage = { kind: "storage", dtype, data: typedView(dtype, raw, 0, numel) };
    cache.set(key, storage);
    return storage;
  };
  const pickle = await readEntry(archive, pickleName, verify);
  return unpickle(pickle, { persistentLoad, inertClasses: options.inertClasses });
}

async function loadStorageEntries(
  archive: ZipArchive,
  prefix: string,
  verify: boolean,
): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const dataPrefix = `${prefix}data/`;
  for (const name of archive.entries.keys()) {
    if (name.startsWith(dataPrefix) && !name.slice(dataPrefix.length).includes("/")) {
      out.set(name.slice(dataPrefix.length), await readEntry(archive, name, verify));
    }
  }
  return out;
}

function tensorEntries(value: PickleValue): [string, UnpickledTensor][] | undefined {
  if (!(value instanceof Map)) return undefined;
  const out: [string, UnpickledTensor][] = [];
  for (const [key, item] of value) {
    if (typeof key === "string" && item instanceof UnpickledTensor) out.push([key, item]);
  }
  return out.length > 0 ? out : undefined;
}

/**
 * Finds the state dict in an unpickled checkpoint: the object itself when it holds tensors, else
 * `teacher`/`student` (by `prefer`), `model` or `state_dict`. Returns the chosen key ("" for the
 * top level) and its tensor entries.
 */
export function findStateDict(
  root: PickleValue,
  prefer: "teacher" | "student" = "teacher",
): { key: string; entries: [string, UnpickledTensor][] } {
  if (!(root instanceof Map)) {
    throw new CheckpointError(
      `pth: the checkpoint is not a dict (${root?.constructor?.name ?? root})`,
    );
  }
  const other = prefer === "teacher" ? "student" : "teacher";
  for (const key of [prefer, other, ...NESTED_STATE_KEYS]) {
    const entries = tensorEntries(root.get(key) ?? null);
    if (entries) return { key, entries };
  }
  const entries = tensorEntries(root);
  if (entries) return { key: "", entries };
  const keys = [...root.keys()].map(String).slice(0, 20).join(", ");
  throw new CheckpointError(`pth: no state dict of tensors found; top-level keys: [${keys}]`);
}

/**
 * The keys of one network of a state dict that holds both, `teacher.*` and `student.*` (the model
 * DINOv2's trainer saves under `model`): those of `prefer` (else the other), the prefix removed;
 * keys of neither (the losses' `center` buffers) are left out. Other state dicts are returned as
 * they are.
 */
export function selectNetwork<T>(
  entries: [string, T][],
  prefer: "teacher" | "student" = "teacher",
): [string, T][] {
  for (const network of [prefer, prefer === "teacher" ? "student" : "teacher"]) {
    const prefix = `${network}.`;
    const picked = entries.filter(([key]) => key.startsWith(prefix));
    if (picked.length > 0) return picked.map(([key, value]) => [key.slice(prefix.length), value]);
  }
  return entries;
}

/** Removes the leading prefixes of `key`, repeatedly ("module.backbone.x" → "x"). */
export function stripKeyPrefixes(key: string, prefixes: readonly string[]): string {
  let changed = true;
  while (changed) {
    changed = false;
    for (const prefix of prefixes) {
      if (key.startsWith(prefix) && key.length > prefix.length) {
        key = key.slice(prefix.length);
        changed = true;
      }
    }
  }
  return key;
}

/**
 * Reads a torch.save checkpoint's state dict: tensors by name, C-order contiguous, keys stripped of
 * `module.` and `backbone.`. Nested state dicts (`teacher`, `student`, `model`, `state_dict`) are
 * found as DINO training checkpoints nest them, and one network of a `teacher.*` + `student.*`
 * state dict is chosen (`selectNetwork`). Non-tensor entries are left out.
 */
export async function readPth(
  bytes: Uint8Array,
  options: ReadPthOptions = {},
): Promise<Map<string, HostTensor>> {
  const root = await readPthObject(bytes, options);
  const entries = selectNetwork(findStateDict(root, options.prefer).entries, options.prefer);
  const prefixes = options.stripPrefixes ?? ["module.", "backbone."];
  const out = new Map<string, HostTensor>();
  const origin = new Map<string, string>();
  for (const [key, tensor] of entries) {
    const name = stripKeyPrefixes(key, prefixes);
    if (out.has(name)) {
      throw new CheckpointError(
        `pth: keys "${
          origin.get(name)
        }" and "${key}" both become "${name}" once prefixes are stripped`,
      );
    }
    out.set(name, { dtype: tensor.dtype, shape: tensor.shape, data: tensor.data });
    origin.set(name, key);
  }
  return out;
}

/** {@link readPth} of a file; every error names the file. */
export function readPthFile(
  path: string,
  options: ReadPthOptions = {},
): Promise<Map<string, HostTensor>> {
  return readCheckpointFile(path, (bytes) => readPth(bytes, options));
}

/** {@link readPthObject} of a file; every error names the file. */
export function readPthObjectFile(
  path: string,
  options: Pick<ReadPthOptions, "inertClasses" | "verifyCrc"> = {},
): Promise<PickleValue> {
  return readCheckpointFile(path, (bytes) => readPthObject(bytes, options));
}
