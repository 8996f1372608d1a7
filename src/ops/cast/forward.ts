/**
 * Casts between f32 and f16 tensors: the f16 copies that mixed-precision compute reads and the
 * f32 results it keeps. One kernel file (kernels/cast/cast.wgsl, entry points `to_f16` and
 * `to_f32`, core WGSL: f16 storage needs no `shader-f16`); its gradient rule
 * (src/ops/cast/backward.ts) casts the output gradient back to the input's dtype.
 * @module
 */
import { gpu } from "../../gpu/device.ts";
import { ShapeError } from "../../gpu/errors.ts";
import { flatWorkgroups } from "../../gpu/launch.ts";
import { record } from "../../tensor/tape.ts";
import { type DType, Tensor } from "../../tensor/tensor.ts";

/** The dtypes `cast` converts between. */
export type FloatDType = "f32" | "f16";

/** Attributes of the cast op, keyed by op name. */
export interface CastOps {
  /** A cast to another float dtype; `from` is the input's dtype. */
  cast: { from: FloatDType };
}

function requireFloat(dtype: DType, what: string): FloatDType {
  if (dtype !== "f32" && dtype !== "f16") {
    throw new ShapeError(`cast: ${what} must be f32 or f16, got ${dtype}`);
  }
  return dtype;
}

/** The values of `x` as a new tensor of `dtype`, without recording (the gradient rule's use). */
export function castValues(x: Tensor, dtype: FloatDType): Tensor {
  requireFloat(x.dtype, `the input ${x.describe()}`);
  requireFloat(dtype, "the target dtype");
  const output = Tensor.empty(x.shape, dtype);
  if (x.dtype === dtype) {
    if (x.byteLength > 0) gpu().copy(x.buffer, 0, output.buffer, 0, x.byteLength);
    return output;
  }
  const words = Math.ceil(x.size / 2);
  if (words === 0) return output;
  gpu().dispatch({
    kernel: "cast/cast",
    entryPoint: dtype === "f16" ? "to_f16" : "to_f32",
    buffers: [x.buffer, output.buffer],
    params: new Uint32Array([words, x.size]),
    workgroups: flatWorkgroups(words),
  });
  return output;
}

/**
 * `x` itself where it is f32, else an f32 copy of its f16 values (exact; the caller disposes the
 * copy when the result is not `x`): what f32 kernels and gradient rules read of an f16 tensor.
 */
export function widenedToF32(x: Tensor): Tensor {
  return x.dtype === "f16" ? castValues(x, "f32") : x;
}

/**
 * `x` converted to `dtype` (f32 or f16) as a new tensor: to f16 rounded to a nearest half,
 * magnitudes from 65520 on to +-infinity, NaN kept; to f32 exact. Differentiable: the gradient
 * passes through as f32 (gradients are f32 whatever the dtype).
 */
export function cast(x: Tensor, dtype: FloatDType): Tensor {
  const output = castValues(x, dtype); // checks both dtypes
  return record("cast", [x], output, { from: x.dtype as FloatDType });
}
