/**
 * The Python globals a pickle may name, each interpreted here and never executed: torch's typed
 * storage classes, the tensor and parameter rebuilders of `torch._utils`, `OrderedDict`, sets and
 * `_codecs.encode` (how pickles store bytes).
 * @module
 */
import { CheckpointError } from "../safetensors.ts";
import { allocate, elementCount, type StorageDType } from "../../tensor/host.ts";
import { describe, isStorage, type PickleValue, UnpickledTensor } from "./values.ts";

/** Element type of each typed storage class of the `torch` module. */
export const STORAGE_DTYPES: Readonly<Record<string, StorageDType>> = {
  DoubleStorage: "F64",
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
};

/** Interprets one call of an allowed global on its arguments. */
export type Handler = (args: PickleValue[]) => PickleValue;

function asNumber(value: PickleValue, what: string): number {
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  throw new CheckpointError(`pickle: ${what} is not an integer: ${describe(value)}`);
}

function asSizes(value: PickleValue, what: string): number[] {
  if (!Array.isArray(value)) {
    throw new CheckpointError(`pickle: ${what} is not a tuple: ${describe(value)}`);
  }
  return value.map((item, i) => asNumber(item, `${what}[${i}]`));
}

/**
 * `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, ...)`: the view of the
 * storage as a C-order contiguous tensor (gathered when strided or offset).
 */
export function rebuildTensor(args: PickleValue[]): UnpickledTensor {
  const [storage, offsetValue, sizeValue, strideValue, requiresGrad] = args;
  if (!isStorage(storage)) {
    throw new CheckpointError(
      `pickle: _rebuild_tensor_v2 expects a storage, got ${describe(storage ?? null)}`,
    );
  }
  const offset = asNumber(offsetValue ?? null, "_rebuild_tensor_v2 storage offset");
  const shape = asSizes(sizeValue ?? null, "_rebuild_tensor_v2 size");
  const stride = asSizes(strideValue ?? null, "_rebuild_tensor_v2 stride");
  if (stride.length !== shape.length) {
    throw new CheckpointError(
      `pickle: _rebuild_tensor_v2: size [${shape.join(", ")}] and stride [${
        stride.join(", ")
      }] differ in rank`,
    );
  }
  const count = elementCount(shape);
  const grad = requiresGrad === true;
  const { data, dtype } = storage;
  if (count === 0) return new UnpickledTensor(dtype, shape, allocate(dtype, 0), grad);
  let last = offset;
  for (let axis = 0; axis < shape.length; axis++) last += (shape[axis] - 1) * stride[axis];
  if (offset < 0 || last >= data.length || stride.some((s) => s < 0)) {
    throw new CheckpointError(
      `pickle: _rebuild_tensor_v2: size [${shape.join(", ")}], stride [${
        stride.join(", ")
      }] at offset ${offset} reach element ${last} of a ${dtype} storage of ${data.length}`,
    );
  }
  let contiguous = true;
  for (let axis = shape.length - 1, expected = 1; axis >= 0; axis--) {
    if (shape[axis] !== 1 && stride[axis] !== expected) contiguous = false;
    expected *= shape[axis];
  }
  if (contiguous) {
    return new UnpickledTensor(dtype, shape, data.subarray(offset, offset + count), grad);
  }
  const out = allocate(dtype, count);
  const target = out as unknown as { [i: number]: number | bigint };
  const source = data as unknown as { [i: number]: number | bigint };
  const index = new Array<number>(shape.length).fill(0);
  let at = offset;
  for (let i = 0; i < count; i++) {
    target[i] = source[at];
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      index[axis]++;
      at += stride[axis];
      if (index[axis] < shape[axis]) break;
      at -= stride[axis] * shape[axis];
      index[axis] = 0;
    }
  }
  return new UnpickledTensor(dtype, shape, out, grad);
}

function asTensor(value: PickleValue | undefined, what: string): UnpickledTensor {
  if (value instanceof UnpickledTensor) return value;
  throw new CheckpointError(`pickle: ${what} expects a tensor, got ${describe(value ?? null)}`);
}

/** The allowed callable globals ("module.name") and how each is interpreted. */
export const CALLABLES: Readonly<Record<string, Handler>> = {
  "torch._utils._rebuild_tensor_v2": rebuildTensor,
  "torch._utils._rebuild_parameter": (args) => {
    const tensor = asTensor(args[0], "_rebuild_parameter");
    tensor.requiresGrad = args[1] === true;
    return tensor;
  },
  "torch._utils._rebuild_parameter_with_state": (args) => {
    const tensor = asTensor(args[0], "_rebuild_parameter_with_state");
    tensor.requiresGrad = args[1] === true;
    return tensor;
  },
  "collections.OrderedDict": (args) => {
    const map = new Map<PickleValue, PickleValue>();
    const items = args[0];
    if (Array.isArray(items)) {
      for (const pair of items) {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new CheckpointError(`pickle: OrderedDict item is not a pair: ${describe(pair)}`);
        }
        map.set(pair[0], pair[1]);
      }
    } else if (items !== undefined) {
      throw new CheckpointError(`pickle: OrderedDict argument is ${describe(items)}`);
    }
    return map;
  },
  "builtins.set": (args) => new Set(Array.isArray(args[0]) ? args[0] : []),
  "builtins.frozenset": (args) => new Set(Array.isArray(args[0]) ? args[0] : []),
  "_codecs.encode": (args) => {
    const [text, encoding] = args;
    if (typeof text !== "string" || (encoding !== "latin1" && encoding !== "latin-1")) {
      throw new CheckpointError(
        `pickle: _codecs.encode supports (str, "latin1") only, got ${describe(encoding ?? null)}`,
      );
    }
    return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
  },
};
