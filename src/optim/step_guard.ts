/**
 * The guard of a training step against gradients that are not finite (an overflow in an f16
 * forward, a run that diverges): a skipped step, never a NaN in the weights. All on the GPU, with
 * no readback, so a recorded step replays it:
 *
 * 1. the gradient-norm passes given the guard (`clipGradNorm`, `clipGradNormPerParameter`, or
 *    `checkGradients` when nothing is clipped) raise its `flag` when their global norm is an
 *    infinity or NaN;
 * 2. the updates given the flag (`AdamW.step({ skipIf })`, `emaUpdate(..., { skipIf })`) leave
 *    what they update as it was;
 * 3. `endStep` counts the step (`counts`: skipped so far, skipped in a row) and lowers the flag.
 *
 * PyTorch's `GradScaler` skips `optimizer.step()` the same way; the optimizer's step counts (its
 * bias correction) still advance here, as they are the host's.
 * @module
 */
import { type Gpu, gpu } from "../gpu/device.ts";
import { ShapeError } from "../gpu/errors.ts";
import { keep, Tensor, zeros } from "../tensor/tensor.ts";

const neverFlags = new WeakMap<Gpu, Tensor>();

/**
 * A flag that is never raised (u32 [1], 0), kept per runtime: what the guarded kernels read when
 * no guard is given.
 */
export function neverSkip(): Tensor {
  const runtime = gpu();
  let flag = neverFlags.get(runtime);
  if (!flag || flag.disposed) {
    flag = keep(zeros([1], "u32"));
    neverFlags.set(runtime, flag);
  }
  return flag;
}

/**
 * The flag a guarded update reads: `skipIf` when given (it must be one u32, else a ShapeError
 * naming `what`), else `neverSkip()`.
 */
export function skipFlag(skipIf: Tensor | undefined, what: string): Tensor {
  if (skipIf === undefined) return neverSkip();
  if (skipIf.size !== 1 || skipIf.dtype !== "u32") {
    throw new ShapeError(`${what}: skipIf must be one u32 flag, got ${skipIf.describe()}`);
  }
  return skipIf;
}

/** The flag and counts of guarded steps (see the module doc). */
export class StepGuard {
  /** u32 [1]: nonzero when this step's gradients were not finite (the step is skipped). */
  readonly flag: Tensor = keep(zeros([1], "u32"));
  /** u32 [2]: steps skipped so far, and skipped in a row up to the latest step. */
  readonly counts: Tensor = keep(zeros([2], "u32"));

  /** Counts the step just taken as skipped or not and lowers the flag (one dispatch). */
  endStep(): void {
    gpu().dispatch({
      kernel: "optim/step_guard",
      buffers: [this.flag.buffer, this.counts.buffer],
      workgroups: [1],
    });
  }

  /** A copy of `counts` (the caller disposes it; reading it is a readback). */
  snapshot(): Tensor {
    const copy = Tensor.empty([2], "u32", "skipped steps");
    gpu().copy(this.counts.buffer, 0, copy.buffer, 0, this.counts.byteLength);
    return copy;
  }

  /** Releases the flag and counts. */
  dispose(): void {
    this.flag.dispose();
    this.counts.dispose();
  }
}
