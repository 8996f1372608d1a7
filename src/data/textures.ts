/**
 * A second built-in generated set: ten texture classes (stripes in three orientations, checker,
 * dots, rings, grid, blob, grain, waves) under random colours, period, phase, small rotation,
 * shading and pixel noise. Every patch of an image carries its class and DINO's crops keep it,
 * while the colours and phases keep k-NN on raw pixels low: the set a small ViT learns something
 * from in the minutes of the demo. `synthetic` (shapes) is the harder set.
 * @module
 */
import { type ArrayDataset, generatedDataset } from "./dataset.ts";
import { colourDistance, randomColour } from "./random_colour.ts";

/** The texture classes, in class order. */
export const TEXTURE_CLASSES = [
  "horizontal stripes",
  "vertical stripes",
  "diagonal stripes",
  "checker",
  "dots",
  "rings",
  "grid",
  "blob",
  "grain",
  "waves",
] as const;

/** Options of `texturesDataset`. */
export interface TexturesOptions {
  /** Number of images; default 2000. */
  count?: number;
  /** Side of the square images in pixels; default 32. */
  size?: number;
  /** Seed; the same seed gives the same images and labels. Default 0. */
  seed?: number;
}

/** Fraction of `value` past its last multiple of `period`, in [0, 1). */
function wrap(value: number, period: number): number {
  const t = value / period;
  return t - Math.floor(t);
}

/**
 * The texture of class `label` as a function of rotated pixel coordinates (u, v) to a foreground
 * weight in [0, 1]; `period` is in pixels, `random` draws the class's own parameters.
 */
function textureOf(
  label: number,
  size: number,
  period: number,
  random: () => number,
): (u: number, v: number) => number {
  const phaseU = random() * period, phaseV = random() * period;
  switch (label) {
    case 0: // horizontal stripes
      return (_u, v) => wrap(v + phaseV, period) < 0.5 ? 1 : 0;
    case 1: // vertical stripes
      return (u) => wrap(u + phaseU, period) < 0.5 ? 1 : 0;
    case 2: { // diagonal stripes, either diagonal (a flip turns one into the other)
      const sign = random() < 0.5 ? 1 : -1;
      return (u, v) => wrap((u + sign * v) / Math.SQRT2 + phaseU, period) < 0.5 ? 1 : 0;
    }
    case 3: // checker
      return (u, v) =>
        ((Math.floor((u + phaseU) / period) + Math.floor((v + phaseV) / period)) & 1) === 1 ? 1 : 0;
    case 4: { // dots on a lattice
      const radius = period * (0.22 + random() * 0.1);
      return (u, v) => {
        const du = (wrap(u + phaseU, period) - 0.5) * period;
        const dv = (wrap(v + phaseV, period) - 0.5) * period;
        return du * du + dv * dv <= radius * radius ? 1 : 0;
      };
    }
    case 5: { // concentric rings around a point near the image
      const cx = size * (0.2 + random() * 0.6), cy = size * (0.2 + random() * 0.6);
      return (u, v) => wrap(Math.hypot(u - cx, v - cy) + phaseU, period) < 0.5 ? 1 : 0;
    }
    case 6: { // thin grid lines
      const width = Math.max(1, period * 0.22);
      return (u, v) =>
        wrap(u + phaseU, period) * period < width || wrap(v + phaseV, period) * period < width
          ? 1
          : 0;
    }
    case 7: { // one soft blob
      const cx = size * (0.3 + random() * 0.4), cy = size * (0.3 + random() * 0.4);
      const radius = size * (0.2 + random() * 0.15);
      return (u, v) => Math.exp(-((u - cx) ** 2 + (v - cy) ** 2) / (2 * radius * radius));
    }
    case 8: { // fine grain: independent pixels
      return () => random() < 0.5 ? 1 : 0;
    }
    default: { // waves: horizontal stripes bent by a sine
      const amplitude = period * (0.4 + random() * 0.4);
      const wavelength = size * (0.35 + random() * 0.3);
      const shift = random() * 2 * Math.PI;
      return (u, v) =>
        wrap(v + phaseV + amplitude * Math.sin((2 * Math.PI * u) / wavelength + shift), period) <
            0.5
          ? 1
          : 0;
    }
  }
}

function clampByte(value: number): number {
  return value < 0 ? 0 : value > 255 ? 255 : Math.round(value);
}

/** Renders one image of class `label` into `out` (size * size * 3 bytes). */
function render(out: Uint8Array, size: number, label: number, random: () => number): void {
  let background: number[], foreground: number[];
  do {
    background = randomColour(random);
    foreground = randomColour(random);
  } while (colourDistance(foreground, background) < 110);
  const period = size * (0.14 + random() * 0.12);
  const texture = textureOf(label, size, period, random);
  // a small rotation about the centre keeps horizontal, vertical and diagonal apart
  const angle = (random() - 0.5) * 0.3;
  const cos = Math.cos(angle), sin = Math.sin(angle);
  const gradient = [(random() - 0.5) * 50, (random() - 0.5) * 50];
  const noise = 4 + random() * 10;
  const centre = size / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x + 0.5 - centre, dy = y + 0.5 - centre;
      const weight = texture(cos * dx + sin * dy + centre, -sin * dx + cos * dy + centre);
      const shade = gradient[0] * (x / size - 0.5) + gradient[1] * (y / size - 0.5);
      const o = (y * size + x) * 3;
      for (let k = 0; k < 3; k++) {
        const colour = background[k] + (foreground[k] - background[k]) * weight;
        out[o + k] = clampByte(colour + shade + (random() - 0.5) * 2 * noise);
      }
    }
  }
}

/**
 * Generates a balanced, seeded set of `count` RGB texture images `size` x `size` in ten classes
 * (`TEXTURE_CLASSES`); labels are balanced (counts differ by at most one) in seeded random order.
 */
export function texturesDataset(options: TexturesOptions = {}): ArrayDataset {
  return generatedDataset({
    what: "texturesDataset",
    count: options.count ?? 2000,
    size: options.size ?? 32,
    seed: options.seed ?? 0,
    classNames: TEXTURE_CLASSES,
    salts: [11, 12],
  }, render);
}
