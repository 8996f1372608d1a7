/**
 * Per-step schedules of hyperparameters (learning rate, weight decay, teacher momentum), computed
 * on the CPU in float64. `cosineSchedule` follows DINO's `utils.cosine_scheduler`: a linear
 * warm-up from `warmupStart` to `base` (numpy's `linspace`, both ends included), then `final +
 * (base - final) * (1 + cos(pi * i / n)) / 2` for `i` in `0..n-1` over the `n` remaining steps.
 * @module
 */

/** Options of a cosine schedule with linear warm-up. */
export interface CosineScheduleOptions {
  /** Value reached at the end of warm-up (and where the cosine starts). */
  base: number;
  /** Value the cosine approaches at the last step. */
  final: number;
  /** Number of steps in the whole schedule (warm-up included). */
  totalSteps: number;
  /** Number of warm-up steps (default 0). */
  warmupSteps?: number;
  /** Value at the first warm-up step (default 0). */
  warmupStart?: number;
}

function validate(options: CosineScheduleOptions): Required<CosineScheduleOptions> {
  const { base, final, totalSteps, warmupSteps = 0, warmupStart = 0 } = options;
  if (!Number.isInteger(totalSteps) || totalSteps < 0) {
    throw new RangeError(
      `cosineSchedule: totalSteps must be a whole number >= 0, got ${totalSteps}`,
    );
  }
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0 || warmupSteps > totalSteps) {
    throw new RangeError(
      `cosineSchedule: warmupSteps must be a whole number in 0..totalSteps, got ${warmupSteps} ` +
        `(totalSteps ${totalSteps})`,
    );
  }
  for (const [name, value] of [["base", base], ["final", final], ["warmupStart", warmupStart]]) {
    if (!Number.isFinite(value)) {
      throw new RangeError(`cosineSchedule: ${name} must be finite, got ${value}`);
    }
  }
  return { base, final, totalSteps, warmupSteps, warmupStart };
}

/**
 * The value of the cosine schedule at `step` (0-based), without building the array. Steps at or
 * past `totalSteps` give the last value; negative steps give the first.
 */
export function cosineValueAt(options: CosineScheduleOptions, step: number): number {
  const { base, final, totalSteps, warmupSteps, warmupStart } = validate(options);
  if (totalSteps === 0) {
    throw new RangeError("cosineValueAt: the schedule is empty (totalSteps 0)");
  }
  const at = Math.min(Math.max(Math.floor(step), 0), totalSteps - 1);
  if (at < warmupSteps) {
    // numpy.linspace(warmupStart, base, warmupSteps): start + k * (base - start) / (n - 1),
    // with the last point exactly `base`.
    if (warmupSteps === 1) return warmupStart;
    if (at === warmupSteps - 1) return base;
    return warmupStart + at * ((base - warmupStart) / (warmupSteps - 1));
  }
  const cosineSteps = totalSteps - warmupSteps;
  const i = at - warmupSteps;
  return final + 0.5 * (base - final) * (1 + Math.cos(Math.PI * i / cosineSteps));
}

/** The whole cosine schedule: one float64 value per step (length `totalSteps`). */
export function cosineSchedule(options: CosineScheduleOptions): Float64Array {
  const checked = validate(options);
  const values = new Float64Array(checked.totalSteps);
  for (let step = 0; step < values.length; step++) values[step] = cosineValueAt(checked, step);
  return values;
}

/**
 * The value of a precomputed schedule at `step`, holding the last value past the end (training
 * that runs a few steps longer than planned keeps the final value) and the first before 0.
 */
export function valueAt(schedule: ArrayLike<number>, step: number): number {
  if (schedule.length === 0) throw new RangeError("valueAt: the schedule is empty");
  const at = Math.min(Math.max(Math.floor(step), 0), schedule.length - 1);
  return schedule[at];
}

/** A constant schedule of `totalSteps` copies of `value` (for fixed hyperparameters). */
export function constantSchedule(value: number, totalSteps: number): Float64Array {
  if (!Number.isInteger(totalSteps) || totalSteps < 0) {
    throw new RangeError(
      `constantSchedule: totalSteps must be a whole number >= 0, got ${totalSteps}`,
    );
  }
  return new Float64Array(totalSteps).fill(value);
}
