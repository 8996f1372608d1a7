/**
 * NumPy `.npy` arrays: writes float32, little-endian, C order with a format 1.0 header (padded with
 * spaces and a newline to a multiple of 64 bytes, as NumPy does); reads format 1.0, 2.0 and 3.0
 * files of float32 (and converts f2, f8, i1-i8, u1 and b1 to float32).
 * @module
 */
import { CheckpointError } from "./safetensors.ts";
import {
  DTYPE_BYTES,
  elementCount,
  type StorageDType,
  toFloat32,
  typedView,
} from "../tensor/host.ts";

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** Writes `data` with `shape` as .npy bytes (format 1.0, '<f4', C order). */
export function writeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const count = elementCount(shape);
  if (!shape.every((size) => Number.isSafeInteger(size) && size >= 0) || count !== data.length) {
    throw new CheckpointError(
      `writeNpy: shape [${shape.join(", ")}] needs ${count} elements, data has ${data.length}`,
    );
  }
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${tuple}, }`;
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, " ") + "\n";
  if (header.length > 0xffff) {
    throw new CheckpointError(`writeNpy: header too long for rank ${shape.length}`);
  }
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

const DESCRIPTORS: Record<string, StorageDType> = {
  "<f4": "F32",
  "<f2": "F16",
  "<f8": "F64",
  "<i8": "I64",
  "<i4": "I32",
  "<i2": "I16",
  "|i1": "I8",
  "|u1": "U8",
  "|b1": "BOOL",
};

/** Reads .npy bytes into float32 values and the shape (C order only). */
export function readNpy(bytes: Uint8Array): { shape: number[]; data: Float32Array } {
  if (bytes.length < 10 || MAGIC.some((value, i) => bytes[i] !== value)) {
    throw new CheckpointError("npy: missing the \\x93NUMPY magic (not a .npy file)");
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new CheckpointError("npy: truncated header");
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new CheckpointError(`npy: unsupported format version ${major}.${bytes[7]}`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) {
    throw new CheckpointError(
      `npy: header of ${headerLength} bytes goes beyond the file (${bytes.length} bytes)`,
    );
  }
  const header = new TextDecoder().decode(bytes.subarray(headerStart, dataStart));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new CheckpointError(`npy: cannot parse the header ${JSON.stringify(header.trim())}`);
  }
  if (fortran === "True") throw new CheckpointError("npy: Fortran-order arrays are not supported");
  const dtype = DESCRIPTORS[descr === "<u1" ? "|u1" : descr];
  if (!dtype) throw new CheckpointError(`npy: unsupported dtype '${descr}'`);
  const shape = shapeText.split(",").map((part) => part.trim()).filter((part) => part !== "")
    .map(Number);
  if (!shape.every((size) => Number.isSafeInteger(size) && size >= 0)) {
    throw new CheckpointError(`npy: bad shape (${shapeText})`);
  }
  const count = elementCount(shape);
  const size = DTYPE_BYTES[dtype];
  if (dataStart + count * size > bytes.length) {
    throw new CheckpointError(
      `npy: shape (${shape.join(", ")}) '${descr}' needs ${count * size} bytes, the file has ${
        bytes.length - dataStart
      } (truncated)`,
    );
  }
  const data = typedView(dtype, bytes, dataStart, count);
  return { shape, data: toFloat32({ dtype, shape, data }) };
}
