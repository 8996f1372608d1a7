/**
 * Deterministic bench inputs: a linear congruential sequence mapped to [-1, 1).
 * @module
 */

/** `size` values in [-1, 1) from `seed`, the same on every run. */
export function randomValues(size: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[i] = state / 2 ** 31 - 1;
  }
  return values;
}
