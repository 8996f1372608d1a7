/**
 * Random RGB colours for the generated data sets (synthetic.ts, textures.ts), which draw a
 * foreground until it stands far enough from the background.
 * @module
 */

/** An RGB colour of three uniform draws of `random` in [0, 255). */
export function randomColour(random: () => number): number[] {
  return [random() * 255, random() * 255, random() * 255];
}

/** The Euclidean distance between two RGB colours. */
export function colourDistance(a: readonly number[], b: readonly number[]): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}
