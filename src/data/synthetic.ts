/**
 * A synthetic labelled image set made in code: the no-download default. Class = shape x texture
 * (5 shapes: disc, square, triangle, ring, cross; textures: solid, stripes, checker), each image
 * with random position, scale, rotation, colours, stripe period and pixel noise, so the classes
 * are learnable but k-NN on raw pixels stays well below 100%.
 * @module
 */
import { type ArrayDataset, generatedDataset } from "./dataset.ts";
import type { Batch } from "./loader.ts";
import { colourDistance, randomColour } from "./random_colour.ts";

/** The shapes, in class order. */
export const SYNTHETIC_SHAPES = ["disc", "square", "triangle", "ring", "cross"] as const;
/** The textures, in class order. */
export const SYNTHETIC_TEXTURES = ["solid", "stripes", "checker"] as const;
/** Most classes the generator can make (shapes x textures). */
export const SYNTHETIC_MAX_CLASSES = SYNTHETIC_SHAPES.length * SYNTHETIC_TEXTURES.length;

/** Options of `syntheticDataset`. */
export interface SyntheticOptions {
  /** Number of images; default 2000. */
  count?: number;
  /** Side of the square images in pixels; default 32. */
  size?: number;
  /** Seed; the same seed gives the same images and labels. Default 0. */
  seed?: number;
  /** Number of classes, 2..15; default 10 (5 shapes x solid/stripes). */
  classes?: number;
}

/** The name of synthetic class `label` ("disc/solid", ...). */
export function syntheticClassName(label: number): string {
  const shape = SYNTHETIC_SHAPES[label % SYNTHETIC_SHAPES.length];
  const texture = SYNTHETIC_TEXTURES[Math.floor(label / SYNTHETIC_SHAPES.length)];
  return `${shape}/${texture}`;
}

function insideShape(shape: number, u: number, v: number): boolean {
  switch (shape) {
    case 0: // disc
      return u * u + v * v <= 1;
    case 1: // square
      return Math.abs(u) <= 0.78 && Math.abs(v) <= 0.78;
    case 2: // triangle, apex up
      return v >= -0.85 && v <= 0.75 && Math.abs(u) <= (v + 0.85) * 0.62;
    case 3: { // ring
      const r2 = u * u + v * v;
      return r2 <= 1 && r2 >= 0.36;
    }
    default: // cross
      return (Math.abs(u) <= 0.28 && Math.abs(v) <= 0.95) ||
        (Math.abs(v) <= 0.28 && Math.abs(u) <= 0.95);
  }
}

function clampByte(value: number): number {
  return value < 0 ? 0 : value > 255 ? 255 : Math.round(value);
}

/** Renders one image of class `label` into `out` (size * size * 3 bytes). */
function render(out: Uint8Array, size: number, label: number, random: () => number): void {
  const shape = label % SYNTHETIC_SHAPES.length;
  const texture = Math.floor(label / SYNTHETIC_SHAPES.length);
  // A muted background (gray with a tint) and a free foreground colour far from it.
  const gray = 30 + random() * 195;
  const background = [0, 1, 2].map(() => gray + (random() - 0.5) * 50);
  let foreground: number[];
  do {
    foreground = randomColour(random);
  } while (colourDistance(foreground, background) < 90);
  const radius = size * (0.26 + random() * 0.14);
  const cx = size * (0.35 + random() * 0.3);
  const cy = size * (0.35 + random() * 0.3);
  const angle = shape === 0 || shape === 3 ? 0 : (random() - 0.5) * 0.8;
  const cos = Math.cos(angle), sin = Math.sin(angle);
  const stripeAngle = random() * Math.PI;
  const stripeCos = Math.cos(stripeAngle), stripeSin = Math.sin(stripeAngle);
  const period = 2.5 + random() * 1.5; // texture cells across the shape's diameter
  const gradient = [(random() - 0.5) * 60, (random() - 0.5) * 60];
  const noise = 6 + random() * 10;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = (x + 0.5 - cx) / radius, dy = (y + 0.5 - cy) / radius;
      const u = cos * dx + sin * dy, v = -sin * dx + cos * dy;
      const o = (y * size + x) * 3;
      const shade = gradient[0] * (x / size - 0.5) + gradient[1] * (y / size - 0.5);
      let color = background;
      let factor = 1;
      if (insideShape(shape, u, v)) {
        color = foreground;
        if (texture === 1) {
          const s = (u * stripeCos + v * stripeSin) * period;
          if ((Math.floor(s) & 1) === 1) factor = 0.35;
        } else if (texture === 2) {
          if (((Math.floor(u * period) + Math.floor(v * period)) & 1) === 1) factor = 0.35;
        }
      }
      for (let k = 0; k < 3; k++) {
        out[o + k] = clampByte(color[k] * factor + shade + (random() - 0.5) * 2 * noise);
      }
    }
  }
}

/**
 * Generates a balanced, seeded synthetic dataset of `count` RGB images `size` x `size`:
 * class `c` is shape `c % 5` with texture `floor(c / 5)`; labels are balanced (counts differ by at
 * most one) and in seeded random order.
 */
export function syntheticDataset(options: SyntheticOptions = {}): ArrayDataset {
  const classes = options.classes ?? 10;
  if (!Number.isInteger(classes) || classes < 2 || classes > SYNTHETIC_MAX_CLASSES) {
    throw new RangeError(
      `syntheticDataset: classes must be an integer in [2, ${SYNTHETIC_MAX_CLASSES}], got ${classes}`,
    );
  }
  return generatedDataset({
    what: "syntheticDataset",
    count: options.count ?? 2000,
    size: options.size ?? 32,
    seed: options.seed ?? 0,
    classNames: Array.from({ length: classes }, (_, c) => syntheticClassName(c)),
    salts: [1, 2],
  }, render);
}

/**
 * One batch of `count` images of `size` x `size` random bytes (a fixed linear congruential
 * sequence), epoch 0, step 0: what benchmarks and tuning run a training step on.
 */
export function randomImageBatch(count: number, size: number): Batch {
  const images = new Uint8Array(count * size * size * 3);
  let state = 12345;
  for (let i = 0; i < images.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    images[i] = state >>> 24;
  }
  return {
    images,
    labels: new Int32Array(count),
    indices: Int32Array.from({ length: count }, (_, i) => i),
    shape: [count, size, size, 3],
    epoch: 0,
    step: 0,
  };
}
