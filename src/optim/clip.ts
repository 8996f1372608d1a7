/**
 * Gradient-norm clipping on the GPU, with no readback: partial sums of squares per gradient, one
 * kernel that turns them into norms and clip factors `min(1, maxNorm / (norm + 1e-6))`, then an
 * in-place scale of each gradient by its factor. The norms come back as tensors; read them only
 * when logging.
 *
 * - `clipGradNorm`: PyTorch's `torch.nn.utils.clip_grad_norm_` (one global L2 norm over all
 *   gradients).
 * - `clipGradNormPerParameter`: DINO's `utils.clip_gradients` (each gradient clipped by its own
 *   norm).
 * - `gradNormClipFactor`: the global norm and factor without touching the gradients, for
 *   `AdamW.step({ gradScale })`, which folds the factor into the update.
 * - `clipFactorsPerParameter`: DINO's per-parameter factors without touching the gradients, for
 *   `AdamW.step({ gradScale })` likewise.
 * - `checkGradients`: the norm pass alone, for a step guard when nothing is clipped.
 *
 * Given a `StepGuard` (src/optim/step_guard.ts), the norm pass raises its flag when the global
 * norm is not finite.
 * @module
 */
import { gpu } from "../gpu/device.ts";
import { ShapeError } from "../gpu/errors.ts";
import { flatWorkgroups } from "../gpu/launch.ts";
import { fillBuffer, Tensor, zeros } from "../tensor/tensor.ts";
import { neverSkip, type StepGuard } from "./step_guard.ts";

/** Partial-sum slots per gradient (the first pass launches at most this many workgroups each). */
const MAX_PARTS = 64;
/** Invocations per workgroup of the clip kernels (their default WORKGROUP_SIZE). */
const WORKGROUP = 256;
/** Elements each invocation of the first pass should sum at least, before using more workgroups. */
const ELEMENTS_PER_INVOCATION = 4;

/** Gradients of `params` that clipping acts on: those present and non-empty, checked. */
export function gradientsOf(params: readonly Tensor[], what: string): Tensor[] {
  const grads: Tensor[] = [];
  params.forEach((param, index) => {
    const grad = param.grad;
    if (!grad || grad.size === 0) return;
    if (grad.dtype !== "f32" || grad.size !== param.size) {
      throw new ShapeError(
        `${what}: gradient of parameter ${index} does not match it: ${param.describe()} has ` +
          `gradient ${grad.describe()}`,
      );
    }
    grads.push(grad);
  });
  return grads;
}

function checkMaxNorm(maxNorm: number, what: string): void {
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) {
    throw new RangeError(`${what}: maxNorm must be a finite number > 0, got ${maxNorm}`);
  }
}

interface NormPass {
  /** Per-gradient L2 norms, [T]. */
  norms: Tensor;
  /** Global L2 norm, [1]. */
  total: Tensor;
  /** Per-gradient clip factors then the global one, [T + 1]. */
  factors: Tensor;
}

/**
 * Runs the two reduction passes over `grads` (non-empty), raising `guard`'s flag on a bad norm.
 * An undefined entry keeps its slot with norm 0 (factor `min(1, maxNorm / 1e-6)`).
 */
function normPass(grads: (Tensor | undefined)[], maxNorm: number, guard?: StepGuard): NormPass {
  const runtime = gpu();
  const count = grads.length;
  const partials = Tensor.empty([count * MAX_PARTS], "f32", "clip partials");
  fillBuffer(partials.buffer, count * MAX_PARTS, 0);
  grads.forEach((grad, index) => {
    if (!grad) return;
    const parts = Math.min(
      MAX_PARTS,
      Math.max(1, Math.ceil(grad.size / (WORKGROUP * ELEMENTS_PER_INVOCATION))),
    );
    runtime.dispatch({
      kernel: "optim/clip_sum_squares",
      buffers: [grad.buffer, partials.buffer],
      params: new Uint32Array([grad.size, index * MAX_PARTS, parts]),
      workgroups: [parts],
    });
  });
  const norms = Tensor.empty([count], "f32", "gradient norms");
  const total = Tensor.empty([1], "f32", "gradient norm");
  const factors = Tensor.empty([count + 1], "f32", "clip factors");
  const params = new Uint32Array([count, MAX_PARTS, 0, guard ? 1 : 0]);
  new Float32Array(params.buffer, 8, 1)[0] = maxNorm;
  const flag = guard?.flag ?? neverSkip();
  runtime.dispatch({
    kernel: "optim/clip_finalize",
    buffers: [partials.buffer, norms.buffer, total.buffer, factors.buffer, flag.buffer],
    params,
    workgroups: [1],
  });
  partials.dispose();
  return { norms, total, factors };
}

function scaleGradient(grad: Tensor, factors: Tensor, index: number): void {
  gpu().dispatch({
    kernel: "optim/clip_scale",
    buffers: [grad.buffer, factors.buffer],
    params: new Uint32Array([grad.size, index]),
    workgroups: flatWorkgroups(grad.size),
  });
}

/**
 * Clips the gradients of `params` in place so that their global L2 norm is at most `maxNorm`
 * (PyTorch's `clip_grad_norm_`: every gradient times `min(1, maxNorm / (norm + 1e-6))`).
 * Parameters without a gradient are skipped. Returns the norm before clipping as a one-element
 * tensor on the GPU (the caller disposes it; reading it is a readback). With `guard`, a norm that
 * is not finite raises its flag.
 */
export function clipGradNorm(
  params: readonly Tensor[],
  maxNorm: number,
  guard?: StepGuard,
): Tensor {
  checkMaxNorm(maxNorm, "clipGradNorm");
  const grads = gradientsOf(params, "clipGradNorm");
  if (grads.length === 0) return zeros([1]);
  const { norms, total, factors } = normPass(grads, maxNorm, guard);
  grads.forEach((grad) => scaleGradient(grad, factors, grads.length));
  norms.dispose();
  factors.dispose();
  return total;
}

/**
 * Clips each gradient of `params` separately to L2 norm at most `maxNorm` (DINO's
 * `utils.clip_gradients`: a gradient whose `maxNorm / (norm + 1e-6)` is below 1 is scaled by it).
 * Returns the norms before clipping, one per parameter that has a gradient, in order, as a
 * tensor of shape [number of such parameters] (the caller disposes it). With `guard`, a global
 * norm that is not finite raises its flag.
 */
export function clipGradNormPerParameter(
  params: readonly Tensor[],
  maxNorm: number,
  guard?: StepGuard,
): Tensor {
  checkMaxNorm(maxNorm, "clipGradNormPerParameter");
  const grads = gradientsOf(params, "clipGradNormPerParameter");
  if (grads.length === 0) return Tensor.empty([0]);
  const { norms, total, factors } = normPass(grads, maxNorm, guard);
  grads.forEach((grad, index) => scaleGradient(grad, factors, index));
  total.dispose();
  factors.dispose();
  return norms;
}

/**
 * DINO's per-parameter clip factors (as `clipGradNormPerParameter` applies them), leaving the
 * gradients as they are: f32 [params.length], entry i `min(1, maxNorm / (norm_i + 1e-6))` for
 * parameter i (norm 0 where it has no gradient, so 1 for any maxNorm >= 1e-6; AdamW skips such a
 * parameter anyway). Pass them to `AdamW.step({ gradScale })`, which
 * multiplies each gradient by its factor inside the update: the same step without a pass over
 * the gradients. With `guard`, a global norm that is not finite raises its flag. The caller
 * disposes the result.
 */
export function clipFactorsPerParameter(
  params: readonly Tensor[],
  maxNorm: number,
  guard?: StepGuard,
): Tensor {
  checkMaxNorm(maxNorm, "clipFactorsPerParameter");
  const withGradient = new Set(gradientsOf(params, "clipFactorsPerParameter"));
  const result = Tensor.empty([params.length], "f32", "clip factors");
  if (withGradient.size === 0) {
    fillBuffer(result.buffer, params.length, 1);
    return result;
  }
  const slots = params.map((param) =>
    param.grad && withGradient.has(param.grad) ? param.grad : undefined
  );
  const { norms, total, factors } = normPass(slots, maxNorm, guard);
  gpu().copy(factors.buffer, 0, result.buffer, 0, params.length * 4);
  for (const value of [norms, total, factors]) value.dispose();
  return result;
}

/** The global gradient norm and its clip factor, both one-element tensors on the GPU. */
export interface GradNormClip {
  /** Global L2 norm of the gradients. */
  norm: Tensor;
  /** `min(1, maxNorm / (norm + 1e-6))`. */
  factor: Tensor;
}

/**
 * Computes the global gradient norm of `params` and the clip factor, leaving the gradients as
 * they are: pass `factor` to `AdamW.step({ gradScale: factor })` to clip inside the update
 * (saves one pass over the gradients). The caller disposes both tensors.
 */
export function gradNormClipFactor(params: readonly Tensor[], maxNorm: number): GradNormClip {
  checkMaxNorm(maxNorm, "gradNormClipFactor");
  const grads = gradientsOf(params, "gradNormClipFactor");
  const factor = Tensor.empty([1], "f32", "clip factor");
  if (grads.length === 0) {
    fillBuffer(factor.buffer, 1, 1);
    return { norm: zeros([1]), factor };
  }
  const { norms, total, factors } = normPass(grads, maxNorm);
  gpu().copy(factors.buffer, grads.length * 4, factor.buffer, 0, 4);
  norms.dispose();
  factors.dispose();
  return { norm: total, factor };
}

/**
 * Raises `guard`'s flag when the gradients of `params` hold an infinity or NaN (their global L2
 * norm is not finite), leaving them as they are: a step guard's check when nothing is clipped.
 */
export function checkGradients(params: readonly Tensor[], guard: StepGuard): void {
  const grads = gradientsOf(params, "checkGradients");
  if (grads.length === 0) return;
  const { norms, total, factors } = normPass(grads, 1, guard);
  for (const value of [norms, total, factors]) value.dispose();
}
