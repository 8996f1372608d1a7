/**
 * Seeded random numbers for reproducible tests: the library's generator plus a helper for arrays.
 * @module
 */
import { Random as LibraryRandom } from "../../src/tensor/random.ts";

/** The library's seeded generator (mulberry32), with `normals` for test data. */
export class Random extends LibraryRandom {
  /** Creates a generator from a 32-bit seed (1234 by default). */
  constructor(seed = 1234) {
    super(seed);
  }
  /** `count` normal values scaled by `scale`. */
  normals(count: number, scale = 1): Float64Array {
    return Float64Array.from({ length: count }, () => this.normal() * scale);
  }
}
