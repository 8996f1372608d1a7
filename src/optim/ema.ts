/**
 * Exponential moving average of parameters on the GPU (DINO's teacher update):
 * `target = momentum * target + (1 - momentum) * source`, in place, one kernel per pair. The
 * momentum is written into one storage buffer at each call (a per-step schedule creates no
 * buffers); given as a function, it is read when written, so a replayed step
 * (`Gpu.beginCapture`) uses the schedule's current value.
 * @module
 */
import { type Gpu, gpu } from "../gpu/device.ts";
import { ShapeError } from "../gpu/errors.ts";
import { flatLaunch } from "../gpu/launch.ts";
import { keep, Tensor } from "../tensor/tensor.ts";
import { skipFlag } from "./step_guard.ts";

const momentumSlots = new WeakMap<Gpu, Tensor>();

function checkMomentum(value: number): number {
  if (!(value >= 0 && value <= 1)) {
    throw new RangeError(`emaUpdate: momentum must be in [0, 1], got ${value}`);
  }
  return value;
}

/**
 * The runtime's momentum buffer, written with `momentum` before the kernels that read it (at
 * every call: a replayed step writes its own value there, so no cached value can be trusted).
 */
function momentumBuffer(momentum: number | (() => number)): Tensor {
  const runtime = gpu();
  let slot = momentumSlots.get(runtime);
  if (!slot || slot.disposed) {
    slot = keep(Tensor.empty([1], "f32", "ema momentum"));
    momentumSlots.set(runtime, slot);
  }
  if (typeof momentum === "number") {
    runtime.uploadConstant(slot.buffer, new Float32Array([checkMomentum(momentum)]));
  } else {
    runtime.uploadStepInput(slot.buffer, () => new Float32Array([checkMomentum(momentum())]));
  }
  return slot;
}

/**
 * Updates each `target[k]` in place towards `source[k]`:
 * `target = momentum * target + (1 - momentum) * source`. `momentum` is a number in [0, 1], a
 * function giving one (a schedule: read again when a captured step is replayed), or a
 * one-element f32 tensor on the GPU (for a momentum computed there). Pairs must have the same
 * number of elements; no autograd is recorded. With `skipIf` (a step guard's flag, u32 [1])
 * raised on the GPU, no target changes.
 */
export function emaUpdate(
  target: readonly Tensor[],
  source: readonly Tensor[],
  momentum: number | Tensor | (() => number),
  options: { skipIf?: Tensor } = {},
): void {
  const skipIf = skipFlag(options.skipIf, "emaUpdate");
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
  if (typeof momentum === "number" || typeof momentum === "function") {
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
      kernel: "optim/ema",
      ...flatLaunch(to.size, [to.buffer, source[index].buffer]),
      buffers: [to.buffer, source[index].buffer, momentumTensor.buffer, skipIf.buffer],
      params: new Uint32Array([to.size]),
    });
  });
}
