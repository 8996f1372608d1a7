/**
 * The values a pickle decodes to (see unpickle.ts for the mapping of Python values): inert
 * references to allowed globals and instances of inert classes, tensor storages and the tensors
 * rebuilt from them.
 * @module
 */
import type { HostData, HostTensor, StorageDType } from "../../tensor/host.ts";

/** A value decoded from a pickle. */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | Map<PickleValue, PickleValue>
  | Set<PickleValue>
  | PickleObject
  | PickleGlobal
  | TorchStorage
  | UnpickledTensor;

/** A reference to an allowed global (module and name); it is only ever looked up, never called. */
export class PickleGlobal {
  /** Creates the reference. */
  constructor(readonly module: string, readonly name: string) {}
  /** "module.name". */
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An inert instance of an allowed class: the class's name, its constructor arguments and its state. */
export class PickleObject {
  /** Creates the inert object. */
  constructor(
    readonly className: string,
    readonly args: PickleValue[],
    public state: PickleValue = null,
  ) {}
  /** The state's entries when it is a dict (e.g. an argparse.Namespace's attributes). */
  get attributes(): Map<PickleValue, PickleValue> {
    return this.state instanceof Map ? this.state : new Map();
  }
}

/** A tensor storage: its element type and all its elements. */
export interface TorchStorage {
  /** Marks the value as a storage. */
  readonly kind: "storage";
  /** Element type. */
  readonly dtype: StorageDType;
  /** All elements of the storage. */
  readonly data: HostData;
}

/** A tensor rebuilt from a pickle: C-order contiguous data. */
export class UnpickledTensor implements HostTensor {
  /** Creates the tensor. */
  constructor(
    public dtype: StorageDType,
    public shape: number[],
    public data: HostData,
    public requiresGrad = false,
  ) {}
}

/** A short description of `value` for error messages. */
export function describe(value: PickleValue): string {
  if (value === null) return "None";
  if (Array.isArray(value)) return `tuple/list of ${value.length}`;
  if (value instanceof Map) return `dict of ${value.size}`;
  if (value instanceof UnpickledTensor) return `tensor ${value.dtype} [${value.shape.join(", ")}]`;
  if (value instanceof PickleGlobal) return `global ${value.qualifiedName}`;
  if (value instanceof PickleObject) return `object ${value.className}`;
  if (typeof value === "object" && "kind" in value) return `storage ${value.dtype}`;
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/** Whether `value` is a tensor storage. */
export function isStorage(value: PickleValue): value is TorchStorage {
  return typeof value === "object" && value !== null && "kind" in value &&
    value.kind === "storage";
}
