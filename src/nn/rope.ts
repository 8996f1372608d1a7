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
 * The RoPE table [gridH * gridW, 2, 2 * periods.length] of a patch grid (row-major, as the
 * patches): per patch, the cosines then the sines of its angles, y first (periods.length
 * values), then x.
 */
export function ropeTable(periods: ArrayLike<number>, gridH: number, gridW: number): Float32Array {
  const quarter = periods.length;
  const half = 2 * quarter;
  const ys = centres(gridH);
  const xs = centres(gridW);
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
