/**
 * Seeded random numbers for reproducible tests.
 * @module
 */

/** A seeded generator (mulberry32) with uniform and normal draws. */
export class Random {
  #state: number;
  /** Creates a generator from a 32-bit seed. */
  constructor(seed = 1234) {
    this.#state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Uniform in [low, high). */
  uniform(low = -1, high = 1): number {
    return low + (high - low) * this.next();
  }
  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = Math.max(this.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** `count` normal values scaled by `scale`. */
  normals(count: number, scale = 1): Float64Array {
    return Float64Array.from({ length: count }, () => this.normal() * scale);
  }
}
