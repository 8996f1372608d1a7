/**
 * Optimizers as GPU kernels, with no GPU-to-CPU readback inside a step:
 *
 * - `AdamW`: PyTorch's AdamW (decoupled weight decay, bias-corrected moments) over parameter
 *   groups, one fused kernel per parameter; per-group lr and weight decay settable every step.
 * - `clipGradNorm` / `clipGradNormPerParameter` / `gradNormClipFactor`: gradient-norm clipping
 *   (PyTorch's global `clip_grad_norm_`, DINO's per-parameter `clip_gradients`) computed and
 *   applied on the GPU.
 * - `emaUpdate`: `target = momentum * target + (1 - momentum) * source` (DINO's teacher).
 * - `StepGuard`: skips a step whose gradients are not finite (no NaN reaches the weights).
 * - `cosineSchedule` / `cosineValueAt` / `valueAt`: DINO's cosine schedule with linear warm-up.
 *
 * A DINO step: `clipGradNormPerParameter(student, 3)`, `optimizer.setGroupLr(...)` from the
 * schedule, `optimizer.step()`, `emaUpdate(teacher, student, momentumSchedule[step])`.
 * @module
 */

/** AdamW with parameter groups and its option and state types. */
export {
  AdamW,
  type AdamWOptions,
  type AdamWState,
  type AdamWStepOptions,
  type ParamGroup,
  type ResolvedParamGroup,
} from "./adamw.ts";
/** Gradient-norm clipping on the GPU. */
export {
  checkGradients,
  clipFactorsPerParameter,
  clipGradNorm,
  clipGradNormPerParameter,
  type GradNormClip,
  gradNormClipFactor,
} from "./clip.ts";
/** The guard that skips a step whose gradients are not finite. */
export { neverSkip, StepGuard } from "./step_guard.ts";
/** Exponential moving average of parameters. */
export { emaUpdate } from "./ema.ts";
/** Per-step hyperparameter schedules. */
export {
  constantSchedule,
  cosineSchedule,
  type CosineScheduleOptions,
  cosineValueAt,
  valueAt,
} from "./schedule.ts";
