/**
 * The Tensor: a shape, a dtype and a reference-counted GPU storage. Tensors are always contiguous
 * (row-major); ops that reorder data write a new tensor. This file is where tensors are born:
 * from host data (`tensor`, `fromArray`), filled (`zeros`, `full`), or as op outputs (`empty`).
 * @module
 */
import { gpu } from "../gpu/device.ts";
import { DisposedTensorError, ShapeError } from "../gpu/errors.ts";
import { flatLaunch } from "../gpu/launch.ts";
import type { TapeNode } from "./tape.ts";

/**
 * Element types a tensor can hold. `f16` (half precision, for mixed-precision compute) is stored
 * two to a 32-bit word, padded to whole words; the kernels read and write it as words
 * (`unpack2x16float` / `pack2x16float`), so it needs no `shader-f16`.
 */
export type DType = "f32" | "f16" | "i32" | "u32";

/** Host array type of each dtype. */
export type HostArray<D extends DType = DType> = D extends "f32" ? Float32Array
  : D extends "f16" ? Float16Array
  : D extends "i32" ? Int32Array
  : Uint32Array;

/** Bytes per element of each dtype. */
export const BYTES_PER_ELEMENT: Record<DType, number> = { f32: 4, f16: 2, i32: 4, u32: 4 };

/** Bytes `size` elements of `dtype` take on the GPU: rounded up to whole 32-bit words. */
export function storageBytes(size: number, dtype: DType): number {
  return Math.ceil((size * BYTES_PER_ELEMENT[dtype]) / 4) * 4;
}

/** The first `size` elements of `bytes` as the host array of `dtype`. */
export function hostArray(dtype: DType, bytes: ArrayBuffer, size: number): HostArray {
  return dtype === "f32"
    ? new Float32Array(bytes, 0, size)
    : dtype === "f16"
    ? new Float16Array(bytes, 0, size)
    : dtype === "i32"
    ? new Int32Array(bytes, 0, size)
    : new Uint32Array(bytes, 0, size);
}

/** A shape: sizes of each axis, outermost first. */
export type Shape = readonly number[];

/** Number of elements of a shape. */
export function shapeSize(shape: Shape): number {
  let size = 1;
  for (const extent of shape) size *= extent;
  return size;
}

/** Formats a shape as `[2, 3]` for messages. */
export function formatShape(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/** Throws unless `shape` is a list of non-negative integers. */
export function validateShape(shape: Shape, what: string): void {
  if (!Array.isArray(shape) || shape.some((extent) => !Number.isInteger(extent) || extent < 0)) {
    throw new ShapeError(
      `${what}: invalid shape ${JSON.stringify(shape)} (want whole numbers >= 0)`,
    );
  }
}

/** A GPU buffer shared by tensor views, returned to the pool when the last view is disposed. */
class Storage {
  refs = 1;
  constructor(readonly buffer: GPUBuffer, readonly bytes: number) {}
  release(): void {
    if (--this.refs === 0) gpu().pool.release(this.buffer);
  }
}

const scopes: Set<Tensor>[] = [];
let liveTensors = 0;

/** Number of tensors created and not yet disposed in this process. */
export function liveTensorCount(): number {
  return liveTensors;
}

/** An n-dimensional array on the GPU. */
export class Tensor {
  /** Sizes of each axis. */
  readonly shape: Shape;
  /** Element type. */
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
  /** Whether gradients flow to this tensor (parameters and what is computed from them). */
  requiresGrad = false;
  /** Accumulated gradient, set by `backward()` on leaves that require grad. */
  grad: Tensor | undefined;
  /** The tape node that produced this tensor, if recorded. */
  node: TapeNode | undefined;
  /** Optional name used in messages and checkpoints. */
  name: string | undefined;
  #storage: Storage | undefined;

  /** Wraps a storage; use the factory functions instead. */
  constructor(shape: Shape, dtype: DType, storage: Storage) {
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = shapeSize(shape);
    this.#storage = storage;
    liveTensors++;
    scopes.at(-1)?.add(this);
  }

  /** Allocates an uninitialised tensor (pooled memory). */
  static empty(shape: Shape, dtype: DType = "f32", label?: string): Tensor {
    validateShape(shape, "Tensor.empty");
    const bytes = Math.max(4, storageBytes(shapeSize(shape), dtype));
    const limit = gpu().limits.maxStorageBufferBindingSize;
    if (bytes > limit) {
      throw new ShapeError(
        `Cannot allocate tensor of shape ${
          formatShape(shape)
        } ${dtype}: ${bytes} bytes exceeds the ` +
          `device's storage binding limit of ${limit} bytes`,
      );
    }
    return new Tensor(shape, dtype, new Storage(gpu().pool.acquire(bytes, label), bytes));
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.#storage === undefined;
  }

  /** The GPU buffer; throws if the tensor was disposed. */
  get buffer(): GPUBuffer {
    if (!this.#storage) throw new DisposedTensorError(this.describe());
    return this.#storage.buffer;
  }

  /** Size of the data in bytes, rounded up to whole 32-bit words (an odd number of f16). */
  get byteLength(): number {
    return storageBytes(this.size, this.dtype);
  }

  /** Rank (number of axes). */
  get rank(): number {
    return this.shape.length;
  }

  /** `Tensor [2, 3] f32 "name"`, for messages. */
  describe(): string {
    return `Tensor ${formatShape(this.shape)} ${this.dtype}${this.name ? ` "${this.name}"` : ""}`;
  }

  /** A new handle on the same storage with another shape of the same size (no copy). */
  view(shape: Shape): Tensor {
    validateShape(shape, "view");
    if (shapeSize(shape) !== this.size) {
      throw new ShapeError(
        `Cannot view tensor of shape ${formatShape(this.shape)} as ${formatShape(shape)}: ` +
          `sizes differ (${this.size} vs ${shapeSize(shape)})`,
      );
    }
    const storage = this.#storage;
    if (!storage) throw new DisposedTensorError(this.describe());
    storage.refs++;
    return new Tensor(shape, this.dtype, storage);
  }

  /** Another handle on the same data and shape (used by the tape to keep values alive). */
  share(): Tensor {
    return this.view(this.shape);
  }

  /** Releases this handle; the memory returns to the pool when no handle is left. */
  dispose(): void {
    if (!this.#storage) return;
    this.#storage.release();
    this.#storage = undefined;
    liveTensors--;
    for (const scope of scopes) scope.delete(this);
  }

  /** Disposes at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Reads the data back (one GPU-to-CPU readback). */
  async read(): Promise<HostArray> {
    const [bytes] = await gpu().readMany([{ buffer: this.buffer, bytes: this.byteLength }]);
    return hostArray(this.dtype, bytes, this.size);
  }

  /** Reads a one-element tensor as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new ShapeError(`item() needs a one-element tensor, got ${this.describe()}`);
    }
    return (await this.read())[0];
  }
}

/** Reads several tensors back with a single map (one readback). */
export async function readAll(tensors: Tensor[]): Promise<HostArray[]> {
  const buffers = await gpu().readMany(
    tensors.map((tensor) => ({ buffer: tensor.buffer, bytes: tensor.byteLength })),
  );
  return buffers.map((bytes, index) => hostArray(tensors[index].dtype, bytes, tensors[index].size));
}

/** Uploads host data as a new tensor of `shape`. */
export function tensor(
  data: ArrayLike<number>,
  shape: Shape = [data.length],
  dtype: DType = "f32",
): Tensor {
  return uploadTensor(data, shape, dtype, false);
}

/**
 * Like `tensor`, for data that are the same at every step (index tables, resampling weights):
 * a captured step replays the upload with the same values (see `Gpu.beginCapture`).
 */
export function constantTensor(
  data: ArrayLike<number>,
  shape: Shape = [data.length],
  dtype: DType = "f32",
): Tensor {
  return uploadTensor(data, shape, dtype, true);
}

function uploadTensor(
  data: ArrayLike<number>,
  shape: Shape,
  dtype: DType,
  constant: boolean,
): Tensor {
  validateShape(shape, "tensor");
  if (data.length !== shapeSize(shape)) {
    throw new ShapeError(
      `Cannot make a tensor of shape ${formatShape(shape)} from ${data.length} values ` +
        `(want ${shapeSize(shape)})`,
    );
  }
  // A whole number of 32-bit words (writeBuffer's unit), the padding of an odd f16 count zero.
  const host = hostArray(dtype, new ArrayBuffer(storageBytes(data.length, dtype)), data.length);
  host.set(data);
  const result = Tensor.empty(shape, dtype);
  if (host.byteLength > 0) {
    if (constant) gpu().uploadConstant(result.buffer, host);
    else gpu().upload(result.buffer, host);
  }
  return result;
}

/** A tensor with every element set to `value`. */
export function full(shape: Shape, value: number, dtype: DType = "f32"): Tensor {
  const result = Tensor.empty(shape, dtype);
  fillBuffer(result.buffer, result.byteLength / 4, value, dtype);
  return result;
}

/** A tensor of zeros. */
export function zeros(shape: Shape, dtype: DType = "f32"): Tensor {
  return full(shape, 0, dtype);
}

/** A tensor of ones. */
export function ones(shape: Shape, dtype: DType = "f32"): Tensor {
  return full(shape, 1, dtype);
}

/**
 * Sets `count` 32-bit words of `buffer` to `value` (bit pattern of the given dtype; an f16 value
 * fills both halves of each word). Fills four vec4s per invocation when the buffer holds whole
 * vec4s up to `count` (pooled buffers do), else one word per invocation.
 */
export function fillBuffer(buffer: GPUBuffer, count: number, value: number, dtype: DType = "f32") {
  const params = new Uint32Array(2);
  params[0] = count;
  const word = hostArray(dtype, params.buffer.slice(4, 8), dtype === "f16" ? 2 : 1);
  word.fill(value);
  params[1] = new Uint32Array(word.buffer)[0];
  gpu().dispatch({
    kernel: "tensor/fill",
    ...flatLaunch(count, [buffer]),
    buffers: [buffer],
    params,
  });
}

/**
 * `destination += scale * source`, elementwise, in place (f32). Used for gradient accumulation.
 * Four vec4s per invocation when both buffers hold whole vec4s up to the size (pooled buffers
 * do), else one element per invocation.
 */
export function accumulateInto(destination: Tensor, source: Tensor, scale = 1): void {
  if (destination.dtype !== "f32" || source.dtype !== "f32") {
    throw new ShapeError(
      `accumulateInto: f32 only (${destination.describe()} += ${source.describe()}); cast f16 ` +
        `gradients to f32 before they are summed`,
    );
  }
  if (destination.size !== source.size) {
    throw new ShapeError(
      `accumulateInto: sizes differ (${destination.describe()} vs ${source.describe()})`,
    );
  }
  const params = new Uint32Array(2);
  params[0] = destination.size;
  new Float32Array(params.buffer, 4, 1)[0] = scale;
  const buffers = [destination.buffer, source.buffer];
  gpu().dispatch({
    kernel: "tensor/accumulate",
    ...flatLaunch(destination.size, buffers),
    buffers,
    params,
  });
}

/** Copies `source` into a new tensor of the same shape (no tape). */
export function clone(source: Tensor): Tensor {
  const result = Tensor.empty(source.shape, source.dtype);
  if (source.byteLength > 0) gpu().copy(source.buffer, 0, result.buffer, 0, source.byteLength);
  return result;
}

/**
 * Runs `body` and disposes every tensor it created, except those it returns (a tensor, or an
 * array or object of tensors) and those passed to `keep()`.
 */
export function tidy<T>(body: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = body();
  } finally {
    scopes.pop();
  }
  const kept = new Set<Tensor>();
  collectTensors(result, kept);
  for (const created of scope) {
    if (kept.has(created)) scopes.at(-1)?.add(created);
    else created.dispose();
  }
  return result;
}

/** Removes `value` from every enclosing `tidy` scope so it outlives them. Returns it. */
export function keep<T extends Tensor>(value: T): T {
  for (const scope of scopes) scope.delete(value);
  return value;
}

function collectTensors(value: unknown, into: Set<Tensor>): void {
  if (value instanceof Tensor) into.add(value);
  else if (Array.isArray(value)) { for (const item of value) collectTensors(item, into); }
  else if (value && typeof value === "object" && !(value instanceof Promise)) {
    for (const item of Object.values(value)) collectTensors(item, into);
  }
}
