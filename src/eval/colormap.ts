/**
 * Perceptual colour maps for heat maps: viridis (matplotlib's default, as DINO's
 * `plt.imsave` uses), built from a degree-6 polynomial fit of the published colour table
 * (within a few units of 255 of it) into a 256-entry RGB lookup table.
 * @module
 */

/** Polynomial coefficients (constant term first) of the viridis fit, per channel. */
const VIRIDIS_COEFFICIENTS: readonly (readonly number[])[] = [
  [
    0.2777273272234177,
    0.1050930431085774,
    -0.3308618287255563,
    -4.634230498983486,
    6.228269936347081,
    4.776384997670288,
    -5.435455855934631,
  ],
  [
    0.005407344544966578,
    1.404613529898575,
    0.214847559468213,
    -5.799100973351585,
    14.17993336680509,
    -13.74514537774601,
    4.645852612178535,
  ],
  [
    0.3340998053353061,
    1.384590162594685,
    0.09509516302823659,
    -19.33244095627987,
    56.69055260068105,
    -65.35303263337234,
    26.3124352495832,
  ],
];

function buildTable(coefficients: readonly (readonly number[])[]): Uint8Array {
  const table = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    for (let c = 0; c < 3; c++) {
      let value = 0;
      const row = coefficients[c];
      for (let p = row.length - 1; p >= 0; p--) value = value * t + row[p];
      table[i * 3 + c] = Math.round(Math.min(1, Math.max(0, value)) * 255);
    }
  }
  return table;
}

/** Viridis as 256 RGB triples (index 0 dark purple, 255 yellow). */
export const VIRIDIS: Uint8Array = buildTable(VIRIDIS_COEFFICIENTS);

/** The RGB colour of `t` in [0, 1] (clamped; NaN maps to 0) from a 256-entry table. */
export function colorAt(t: number, table: Uint8Array = VIRIDIS): [number, number, number] {
  const index = Number.isNaN(t) ? 0 : Math.round(Math.min(1, Math.max(0, t)) * 255);
  return [table[index * 3], table[index * 3 + 1], table[index * 3 + 2]];
}
