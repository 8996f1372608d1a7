/**
 * Exponential moving average of parameters on the GPU (DINO's teacher update):
 * `target = momentum * target + (1 - momentum) * source`, in place, one kernel per pair. The
 * momentum lives in a one-element storage buffer written by a single upload when it changes, so a
 * per-step momentum schedule creates no buffers.
 * @module
 */
import { type Gpu, gpu } from "../gpu/device.ts";
import { ShapeError } from "../gpu/errors.ts";
import { flatWorkgroups } from "../gpu/launch.ts";
import { keep, Tensor } from "../tensor/tensor.ts";

interface MomentumSlot {
  tensor: Tensor;
  value: number | undefined;
}

const momentumSlots = new WeakMap<Gpu, MomentumSlot>();

/** The runtime's momentum buffer holding `value` (uploaded only when the value changes). */
function momentumBuffer(value: number): Tensor {
  const runtime = gpu();
  let slot = momentumSlots.get(runtime);
  if (!slot || slot.tensor.disposed) {
    slot = { tensor: keep(Tensor.empty([1], "f32", "ema momentum")), value: undefined };
    momentumSlots.set(runtime, slot);
  }
  const rounded = Math.fround(value);
  if (slot.value !== rounded) {
    runtime.upload(slot.tensor.buffer, new Float32Array([rounded]));
    slot.value = rounded;
  }
  return slot.tensor;
}

/**
 * Updates each `target[k]` in place towards `source[k]`:
 * `target = momentum * target + (1 - momentum) * source`. `momentum` is a number in [0, 1] or a
 * one-element f32 tensor on the GPU (for a momentum computed there). Pairs must have the same
 * number of elements; no autograd is recorded.
 */
export function emaUpdate(
  target: readonly Tensor[],
  source: readonly Tensor[],
  momentum: number | Tensor,
): void {
  if (target.length !== source.length) {
    throw new ShapeError(
      `emaUpdate: ${target.length} target tensors but ${source.length} source tensors`,
    );
  }
  target.forEach((to, index) => {
    const from = source[index];
    if (to.size !== from.size || to.dtype !== "f32" || from.dtype !== "f32") {
      throw new ShapeError(
        `emaUpdate: pair ${index} differs: target ${to.describe()} vs source ${from.describe()} ` +
          `(want the same size, f32)`,
      );
    }
  });
  let momentumTensor: Tensor;
  if (typeof momentum === "number") {
    if (!(momentum >= 0 && momentum <= 1)) {
      throw new RangeError(`emaUpdate: momentum must be in [0, 1], got ${momentum}`);
    }
    momentumTensor = momentumBuffer(momentum);
  } else {
    if (momentum.size !== 1 || momentum.dtype !== "f32") {
      throw new ShapeError(
        `emaUpdate: momentum tensor must hold one f32 value, got ${momentum.describe()}`,
      );
    }
    momentumTensor = momentum;
  }
  const runtime = gpu();
  target.forEach((to, index) => {
    if (to.size === 0) return;
    runtime.dispatch({
      kernel: "ema",
      buffers: [to.buffer, source[index].buffer, momentumTensor.buffer],
      params: new Uint32Array([to.size]),
      workgroups: flatWorkgroups(to.size),
    });
  });
}
