/**
 * Seeded random numbers on the CPU, and tensors drawn from them (initialisation, masks).
 * @module
 */
import { type Shape, shapeSize, type Tensor, tensor } from "./tensor.ts";

/** A seeded generator (mulberry32) with uniform, normal and integer draws; its state can be saved. */
export class Random {
  #state: number;
  /** Creates a generator from a 32-bit seed. */
  constructor(seed = 0) {
    this.#state = seed >>> 0;
  }
  /** The generator state, for checkpoints. */
  get state(): number {
    return this.#state;
  }
  /** Restores a state returned by `state`. */
  set state(value: number) {
    this.#state = value >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Uniform in [low, high). */
  uniform(low = 0, high = 1): number {
    return low + (high - low) * this.next();
  }
  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = Math.max(this.next(), 1e-300);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** A random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Uint32Array {
    const order = Uint32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  }
}

/**
 * Values of a normal(0, std) truncated to [-2 std, 2 std] by redrawing, as timm's and DINO's
 * `trunc_normal_(std=0.02)` (whose bounds a=-2, b=2 are absolute; for std 0.02 they never bind, so
 * the result is a plain normal there: we follow the absolute bounds too).
 */
export function truncatedNormalValues(
  count: number,
  random: Random,
  std = 0.02,
  low = -2,
  high = 2,
): Float32Array {
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    let value: number;
    do value = random.normal() * std; while (value < low || value > high);
    values[i] = value;
  }
  return values;
}

/** A tensor of truncated-normal draws (see `truncatedNormalValues`). */
export function truncatedNormal(shape: Shape, random: Random, std = 0.02): Tensor {
  return tensor(truncatedNormalValues(shapeSize(shape), random, std), shape);
}

/** A tensor of uniform draws in [low, high). */
export function uniform(shape: Shape, random: Random, low = 0, high = 1): Tensor {
  return tensor(
    Float32Array.from({ length: shapeSize(shape) }, () => random.uniform(low, high)),
    shape,
  );
}
