/**
 * DINOv3's axial rotary position embedding, host side (the rotation itself is src/ops/rope/):
 * the periods and, per patch grid, the table of cosines and sines the op reads.
 *
 * As the official `RopePositionEmbedding` (normalize_coords "separate", evaluation: no shift,
 * jitter or rescale): periods `base ** (2 i / (D / 2))` for i < D / 4 (D the head size);
 * patch-centre coordinates `(i + 0.5) / H` and `(j + 0.5) / W` mapped to [-1, 1]; angles
 * `2 pi coord / period` laid out [y periods, x periods] (D / 2 values) and tiled twice. The maths
 * is float32 step by step, as the official code computes it in fp32; the halves of the tiled
 * layout are equal, so the table keeps one: [H * W, 2, D / 2] (cosines, then sines).
 * @module
 */
import { ShapeError } from "../gpu/errors.ts";

const TWO_PI = Math.fround(2 * Math.PI);

/** The headSize / 4 RoPE periods `base ** (2 i / (headSize / 2))`, in float32. */
export function ropePeriods(headSize: number, base = 100): Float32Array {
  if (!Number.isInteger(headSize) || headSize < 4 || headSize % 4 !== 0) {
    throw new ShapeError(`ropePeriods: the head size must be a multiple of 4, got ${headSize}`);
  }
  return Float32Array.from(
    { length: headSize / 4 },
    (_, i) => Math.pow(base, Math.fround(2 * i / (headSize / 2))),
  );
}

/** Patch-centre coordinates of `count` cells in [-1, 1], in float32 as the official code. */
function centres(count: number): Float32Array {
  return Float32Array.from(
    { length: count },
    (_, i) => Math.fround(2 * Math.fround((i + 0.5) / count) - 1),
  );
}

/**
 * DINOv3's training-time augmentation of the RoPE coordinates (`pos_embed_rope_shift_coords`,
 * `_jitter_coords`, `_rescale_coords`): each coordinate becomes `(c + shift) * scale`, per axis
 * [y, x].
 */
export interface RopeCoordinateTransform {
  /** Added to the [-1, 1] coordinates, [y, x]. */
  shift: [number, number];
  /** Then multiplied in, [y, x]. */
  scale: [number, number];
}

/** How strongly a ViT in training mode perturbs its RoPE coordinates (0 or undefined: not). */
export interface RopeAugmentation {
  /** Shift each axis by a uniform draw in [-shift, shift]. */
  shift?: number;
  /** Scale each axis by its own log-uniform draw in [1 / jitter, jitter] (> 1). */
  jitter?: number;
  /** Then scale both axes by one log-uniform draw in [1 / rescale, rescale] (> 1). */
  rescale?: number;
}

/**
 * Draws a coordinate transform as the official `RopePositionEmbedding` does in training: shift,
 * then per-axis jitter, then a common rescale, each only when set. `uniform` returns draws in
 * [0, 1).
 */
export function drawRopeTransform(
  augmentation: RopeAugmentation,
  uniform: () => number,
): RopeCoordinateTransform {
  const between = (low: number, high: number) => low + (high - low) * uniform();
  const shift: [number, number] = [0, 0];
  const scale: [number, number] = [1, 1];
  const { shift: shiftRange, jitter, rescale } = augmentation;
  if (shiftRange) {
    shift[0] = between(-shiftRange, shiftRange);
    shift[1] = between(-shiftRange, shiftRange);
  }
  if (jitter && jitter > 1) {
    scale[0] = Math.exp(between(-Math.log(jitter), Math.log(jitter)));
    scale[1] = Math.exp(between(-Math.log(jitter), Math.log(jitter)));
  }
  if (rescale && rescale > 1) {
    const common = Math.exp(between(-Math.log(rescale), Math.log(rescale)));
    scale[0] *= common;
    scale[1] *= common;
  }
  return { shift, scale };
}

/** Whether `augmentation` perturbs anything. */
export function augmentsRope(augmentation: RopeAugmentation | undefined): boolean {
  if (!augmentation) return false;
  const { shift, jitter, rescale } = augmentation;
  return (shift ?? 0) > 0 || (jitter ?? 0) > 1 || (rescale ?? 0) > 1;
}

/**
 * The RoPE table [gridH * gridW, 2, 2 * periods.length] of a patch grid (row-major, as the
 * patches): per patch, the cosines then the sines of its angles, y first (periods.length
 * values), then x. `transform` perturbs the coordinates first (training-time augmentation).
 */
export function ropeTable(
  periods: ArrayLike<number>,
  gridH: number,
  gridW: number,
  transform?: RopeCoordinateTransform,
): Float32Array {
  const quarter = periods.length;
  const half = 2 * quarter;
  const moved = (values: Float32Array, axis: 0 | 1) =>
    transform
      ? values.map((c) => Math.fround((c + transform.shift[axis]) * transform.scale[axis]))
      : values;
  const ys = moved(centres(gridH), 0);
  const xs = moved(centres(gridW), 1);
  const table = new Float32Array(gridH * gridW * 2 * half);
  for (let y = 0; y < gridH; y++) {
    for (let x = 0; x < gridW; x++) {
      const at = (y * gridW + x) * 2 * half;
      for (let j = 0; j < half; j++) {
        const coordinate = j < quarter ? ys[y] : xs[x];
        const angle = Math.fround(Math.fround(TWO_PI * coordinate) / periods[j % quarter]);
        table[at + j] = Math.cos(angle);
        table[at + half + j] = Math.sin(angle);
      }
    }
  }
  return table;
}
