/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header (`dtype`, `shape`,
 * `data_offsets` per tensor, optional `__metadata__` of strings) padded with spaces to a multiple
 * of 8 bytes, then the tensors' bytes, little-endian, C order, with no holes and no overlaps.
 * Host-side tensors themselves are in src/tensor/host.ts.
 * @module
 */
import { DTYPE_BYTES, elementCount, type HostTensor, isDType, typedView } from "../tensor/host.ts";

/** Raised when a checkpoint, archive, pickle or array file is malformed, truncated or refused. */
export class CheckpointError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

/** The contents of a safetensors file. */
export interface Safetensors {
  /** Tensors by name, in the header's order. */
  tensors: Map<string, HostTensor>;
  /** The `__metadata__` strings (empty when absent). */
  metadata: Record<string, string>;
}

const MAX_HEADER_BYTES = 100_000_000;

/**
 * Reads a safetensors file's bytes. Validates the header length, the JSON, each tensor's dtype,
 * shape and `data_offsets` (in range, matching the shape's size, no overlaps, no holes) and names
 * the tensor in every error. Tensor data may alias `bytes`.
 */
export function readSafetensors(bytes: Uint8Array): Safetensors {
  if (bytes.length < 8) {
    throw new CheckpointError(
      `safetensors: file too short for the 8-byte header length (${bytes.length} bytes)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8) || headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new CheckpointError(
      `safetensors: header length ${headerLength} goes beyond the file (${bytes.length} bytes; ` +
        `truncated or not a safetensors file)`,
    );
  }
  const dataStart = 8 + Number(headerLength);
  const headerText = new TextDecoder("utf-8", { fatal: false }).decode(
    bytes.subarray(8, dataStart),
  );
  if (!headerText.startsWith("{")) {
    throw new CheckpointError(`safetensors: header does not start with "{"`);
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (error) {
    throw new CheckpointError(`safetensors: header is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new CheckpointError("safetensors: header is not a JSON object");
  }
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const ranges: { name: string; start: number; end: number }[] = [];
  const tensors = new Map<string, HostTensor>();
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof info !== "object" || info === null || Array.isArray(info)) {
        throw new CheckpointError("safetensors: __metadata__ is not an object of strings");
      }
      for (const [key, value] of Object.entries(info)) {
        if (typeof value !== "string") {
          throw new CheckpointError(
            `safetensors: __metadata__ value of "${key}" is not a string: ${JSON.stringify(value)}`,
          );
        }
        metadata[key] = value;
      }
      continue;
    }
    const entry = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof entry !== "object" || entry === null) {
      throw new CheckpointError(`safetensors: tensor "${name}": entry is not an object`);
    }
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== "string" || !isDType(dtype)) {
      throw new CheckpointError(
        `safetensors: tensor "${name}": unsupported dtype ${JSON.stringify(dtype)}`,
      );
    }
    if (
      !Array.isArray(shape) || !shape.every((size) => Number.isSafeInteger(size) && size >= 0)
    ) {
      throw new CheckpointError(
        `safetensors: tensor "${name}": shape is not a list of sizes: ${JSON.stringify(shape)}`,
      );
    }
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((offset) => Number.isSafeInteger(offset) && offset >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new CheckpointError(
        `safetensors: tensor "${name}": data_offsets is not [start, end]: ${
          JSON.stringify(offsets)
        }`,
      );
    }
    const [start, end] = offsets as number[];
    if (end > dataLength) {
      throw new CheckpointError(
        `safetensors: tensor "${name}": data_offsets [${start}, ${end}] go beyond the data ` +
          `(${dataLength} bytes; truncated file?)`,
      );
    }
    const count = elementCount(shape);
    const expected = count * DTYPE_BYTES[dtype];
    if (end - start !== expected) {
      throw new CheckpointError(
        `safetensors: tensor "${name}": data_offsets [${start}, ${end}] hold ${
          end - start
        } bytes but ${dtype} [${shape.join(", ")}] needs ${expected}`,
      );
    }
    ranges.push({ name, start, end });
    tensors.set(name, {
      dtype,
      shape: [...shape],
      data: typedView(dtype, bytes, dataStart + start, count),
    });
  }
  ranges.sort((a, b) => a.start - b.start || a.end - b.end);
  let covered = 0;
  for (const range of ranges) {
    if (range.start < covered) {
      const other = ranges.find((r) => r !== range && r.end > range.start && r.start < range.end);
      throw new CheckpointError(
        `safetensors: tensor "${range.name}": data_offsets [${range.start}, ${range.end}] ` +
          `overlap tensor "${other?.name}"`,
      );
    }
    if (range.start > covered) {
      throw new CheckpointError(
        `safetensors: tensor "${range.name}": data_offsets [${range.start}, ${range.end}] ` +
          `leave a hole at bytes [${covered}, ${range.start})`,
      );
    }
    covered = range.end;
  }
  if (covered !== dataLength) {
    throw new CheckpointError(
      `safetensors: ${dataLength - covered} bytes after the last tensor are not indexed ` +
        `(data ${dataLength} bytes, tensors end at ${covered})`,
    );
  }
  return { tensors, metadata };
}

/**
 * Writes tensors (in the map's order) and optional metadata strings as safetensors bytes, the
 * header padded with spaces to a multiple of 8 bytes.
 */
export function writeSafetensors(
  tensors: Map<string, HostTensor> | Record<string, HostTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== "string") {
        throw new CheckpointError(
          `writeSafetensors: metadata value of "${key}" is not a string: ${String(value)}`,
        );
      }
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, tensor] of entries) {
    if (name === "__metadata__") {
      throw new CheckpointError(`writeSafetensors: "__metadata__" is not a valid tensor name`);
    }
    const count = elementCount(tensor.shape);
    if (!isDType(tensor.dtype) || tensor.data.length !== count) {
      throw new CheckpointError(
        `writeSafetensors: tensor "${name}": ${tensor.dtype} [${tensor.shape.join(", ")}] ` +
          `needs ${count} elements, data has ${tensor.data.length}`,
      );
    }
    const size = count * DTYPE_BYTES[tensor.dtype];
    header[name] = {
      dtype: tensor.dtype,
      shape: tensor.shape,
      data_offsets: [offset, offset + size],
    };
    offset += size;
  }
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  if (padded !== headerBytes.length) {
    const spaced = new Uint8Array(padded).fill(0x20);
    spaced.set(headerBytes);
    headerBytes = spaced;
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const [, tensor] of entries) {
    const raw = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    out.set(raw, at);
    at += raw.length;
  }
  return out;
}

/**
 * `read` of the bytes of the file at `path`, with the path in front of every CheckpointError (a
 * file that cannot be read is one). Serves the readers of safetensors and `.pth` files.
 */
export async function readCheckpointFile<T>(
  path: string,
  read: (bytes: Uint8Array) => T | Promise<T>,
): Promise<T> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new CheckpointError(`${path}: cannot read: ${(error as Error).message}`);
  }
  try {
    return await read(bytes);
  } catch (error) {
    if (error instanceof CheckpointError) throw new CheckpointError(`${path}: ${error.message}`);
    throw error;
  }
}

/** Reads a safetensors file from disk; every error names the file. */
export function readSafetensorsFile(path: string): Promise<Safetensors> {
  return readCheckpointFile(path, readSafetensors);
}
