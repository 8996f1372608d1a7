/**
 * The resolution curriculum (DINOv2's short final high-resolution phase): phases of crop sizes by
 * fraction of the run's steps. At a switch the step plan is rebuilt (a new multi-crop augmenter
 * for the new sizes, continuing the old one's random stream); a ViT needs nothing else, since its
 * position embedding stays at its original grid and is interpolated on the fly to whatever grid a
 * crop has; an MLP-Mixer's token-mixing MLPs grow block-diagonally.
 *
 * Mixer token order. Going from a G x G grid to rG x rG (S' = k S tokens, k = r^2), the tokens are
 * gathered after the stem into k contiguous blocks of S tokens; block j = dy * r + dx holds the
 * strided sub-grid of positions (r y + dy, r x + dx) for (y, x) over the old G x G grid in the old
 * order. Each block is thus a G x G grid with the old layout (over a quarter-shifted sampling of
 * the image), which is what the trained token-mixing weights expect; k copies of them on the block
 * diagonal (fc1 [Dt, S] -> [k Dt, k S], fc2 [S, Dt] -> [k S, k Dt], biases tiled) compute exactly
 * the old mixing within each block at the switch, and are free to mix across blocks afterwards.
 * Repeated growth nests the orders (`blockTokenOrder`, src/nn/mixer.ts, with the Mixer it orders).
 * Mean pooling is order-free, so features need no inverse order.
 * @module
 */
import type { DinoTrainConfig } from "./config.ts";

/** One phase of the curriculum. */
export interface ResolutionPhase {
  /** First step of the phase. */
  startStep: number;
  /** Side of the global crops. */
  globalSize: number;
  /** Side of the local crops. */
  localSize: number;
}

/**
 * The phases of `config` for a run of `totalSteps` steps (epochs x steps per epoch); phase 0 is
 * the configuration's own sizes from step 0.
 */
export function resolutionPhases(config: DinoTrainConfig, totalSteps: number): ResolutionPhase[] {
  const phases: ResolutionPhase[] = [
    { startStep: 0, globalSize: config.globalSize, localSize: config.localSize },
  ];
  for (const [fraction, globalSize, localSize] of config.resolutionSchedule) {
    phases.push({ startStep: Math.round(fraction * totalSteps), globalSize, localSize });
  }
  return phases;
}

/** Index of the phase that step `step` belongs to. */
export function phaseAt(phases: readonly ResolutionPhase[], step: number): number {
  let index = 0;
  for (let i = 1; i < phases.length; i++) if (step >= phases[i].startStep) index = i;
  return index;
}

/**
 * `k` copies of a row-major `rows` x `cols` matrix on the block diagonal of a `k rows` x `k cols`
 * zero matrix (a bias: rows = length, cols = 1 gives it tiled).
 */
export function blockDiagonal(
  values: ArrayLike<number>,
  rows: number,
  cols: number,
  k: number,
): Float32Array {
  if (values.length !== rows * cols) {
    throw new RangeError(`blockDiagonal: ${values.length} values for a ${rows} x ${cols} matrix`);
  }
  if (cols === 1) {
    const tiled = new Float32Array(k * rows);
    for (let a = 0; a < k; a++) for (let i = 0; i < rows; i++) tiled[a * rows + i] = values[i];
    return tiled;
  }
  const out = new Float32Array(k * rows * k * cols);
  const width = k * cols;
  for (let a = 0; a < k; a++) {
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        out[(a * rows + i) * width + a * cols + j] = values[i * cols + j];
      }
    }
  }
  return out;
}

/** Grows one token-mixing tensor by `k` given its name's last part and shape. */
export function growTokenMixing(
  name: string,
  shape: readonly number[],
  values: ArrayLike<number>,
  k: number,
): { shape: number[]; values: Float32Array } {
  if (shape.length === 1) {
    return { shape: [k * shape[0]], values: blockDiagonal(values, shape[0], 1, k) };
  }
  if (shape.length !== 2) throw new RangeError(`growTokenMixing: ${name} has rank ${shape.length}`);
  return {
    shape: [k * shape[0], k * shape[1]],
    values: blockDiagonal(values, shape[0], shape[1], k),
  };
}

/** Whether a parameter name belongs to a Mixer's token-mixing MLP. */
export function isTokenMixing(name: string): boolean {
  return /(^|\.)mlp_tokens\./.test(name);
}
