/**
 * Host-side tensors: the element types of stored weights (safetensors' spelling, shared by
 * `.pth`, `.npy` and safetensors files), typed views over their bytes, and their conversion to the
 * float32 values a `Tensor` holds. Modules load their parameters from these (`Module.loadStateDict`);
 * the file formats in src/io/ read and write them.
 * @module
 */
import type { DType, HostArray } from "./tensor.ts";

/** Element types of host tensors, in safetensors' spelling. */
export type StorageDType =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U64"
  | "U32"
  | "U16"
  | "U8"
  | "BOOL";

/** The typed arrays host tensors hold; F16 and BF16 keep their raw 16-bit patterns in a Uint16Array. */
export type HostData =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint32Array
  | Uint8Array;

/** A tensor in host memory: dtype, shape and C-order, contiguous data. */
export interface HostTensor {
  /** Element type. */
  dtype: StorageDType;
  /** Sizes of the axes; [] for a scalar. */
  shape: number[];
  /** The elements, C order; its length is the product of `shape`. It may alias the file's bytes. */
  data: HostData;
}

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<StorageDType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

/** Whether `name` is a storage dtype this module knows. */
export function isDType(name: string): name is StorageDType {
  return Object.hasOwn(DTYPE_BYTES, name);
}

/** Number of elements of a shape (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const size of shape) count *= size;
  return count;
}

/**
 * Typed array of `count` elements of `dtype` over `bytes` starting at byte `offset`: a view when the
 * offset is aligned to the element size, otherwise a copy.
 */
export function typedView(
  dtype: StorageDType,
  bytes: Uint8Array,
  offset: number,
  count: number,
): HostData {
  const size = DTYPE_BYTES[dtype];
  const start = bytes.byteOffset + offset;
  const aligned = start % size === 0;
  const buffer = aligned ? bytes.buffer : bytes.slice(offset, offset + count * size).buffer;
  const at = aligned ? start : 0;
  switch (dtype) {
    case "F64":
      return new Float64Array(buffer, at, count);
    case "F32":
      return new Float32Array(buffer, at, count);
    case "F16":
    case "BF16":
    case "U16":
      return new Uint16Array(buffer, at, count);
    case "I64":
      return new BigInt64Array(buffer, at, count);
    case "U64":
      return new BigUint64Array(buffer, at, count);
    case "I32":
      return new Int32Array(buffer, at, count);
    case "U32":
      return new Uint32Array(buffer, at, count);
    case "I16":
      return new Int16Array(buffer, at, count);
    case "I8":
      return new Int8Array(buffer, at, count);
    case "U8":
    case "BOOL":
      return new Uint8Array(buffer, at, count);
  }
}

/** A new, empty typed array of `count` elements of `dtype`. */
export function allocate(dtype: StorageDType, count: number): HostData {
  return typedView(dtype, new Uint8Array(count * DTYPE_BYTES[dtype]), 0, count);
}

/** Converts one IEEE half-precision bit pattern to a number. */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * The tensor's values as a Float32Array: F32 data is returned as is; F16, BF16, F64, integer and
 * BOOL data are converted (I64 values beyond 2^24 round to the nearest float32).
 */
export function toFloat32(tensor: HostTensor): Float32Array {
  const { dtype, data } = tensor;
  if (dtype === "F32") return data as Float32Array;
  const out = new Float32Array(data.length);
  if (dtype === "F16") {
    const bits = data as Uint16Array;
    for (let i = 0; i < bits.length; i++) out[i] = halfToNumber(bits[i]);
  } else if (dtype === "BF16") {
    const bits = data as Uint16Array;
    const wide = new Uint32Array(out.buffer);
    for (let i = 0; i < bits.length; i++) wide[i] = bits[i] << 16;
  } else if (dtype === "I64" || dtype === "U64") {
    const big = data as BigInt64Array | BigUint64Array;
    for (let i = 0; i < big.length; i++) out[i] = Number(big[i]);
  } else {
    const numbers = data as Exclude<HostData, BigInt64Array | BigUint64Array>;
    for (let i = 0; i < numbers.length; i++) out[i] = numbers[i];
  }
  return out;
}

/**
 * A tensor's values read back (`Tensor.read`, `readAll`) as a host tensor of the stored dtype:
 * f16 as its raw 16-bit patterns, as host tensors keep them.
 */
export function hostTensorOf(
  dtype: DType,
  shape: readonly number[],
  values: HostArray,
): HostTensor {
  if (dtype === "f16") {
    return {
      dtype: "F16",
      shape: [...shape],
      data: new Uint16Array(values.buffer, values.byteOffset, values.length),
    };
  }
  const storage = { f32: "F32", i32: "I32", u32: "U32" } as const;
  return {
    dtype: storage[dtype],
    shape: [...shape],
    data: values as Exclude<HostArray, Float16Array>,
  };
}
