/**
 * Disjoint sets over rows 0..n-1 (union-find with path halving and union by size), for the
 * connected components of a near-duplicate graph.
 * @module
 */

/** Disjoint sets of the integers 0..size-1, each starting alone. */
export class UnionFind {
  readonly #parent: Int32Array;
  readonly #size: Int32Array;

  /** `size` singletons. */
  constructor(size: number) {
    if (!Number.isInteger(size) || size < 0) {
      throw new RangeError(`UnionFind: size must be a whole number >= 0, got ${size}`);
    }
    this.#parent = Int32Array.from({ length: size }, (_, i) => i);
    this.#size = new Int32Array(size).fill(1);
  }

  /** Number of elements. */
  get length(): number {
    return this.#parent.length;
  }

  /** The representative of `x`'s set (compressing the path on the way). */
  find(x: number): number {
    const parent = this.#parent;
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  }

  /** Joins the sets of `a` and `b`; returns whether they were apart. */
  union(a: number, b: number): boolean {
    let rootA = this.find(a);
    let rootB = this.find(b);
    if (rootA === rootB) return false;
    if (this.#size[rootA] < this.#size[rootB]) [rootA, rootB] = [rootB, rootA];
    this.#parent[rootB] = rootA;
    this.#size[rootA] += this.#size[rootB];
    return true;
  }

  /** The sets with more than one element, each sorted ascending, ordered by their first element. */
  groups(): number[][] {
    const byRoot = new Map<number, number[]>();
    for (let x = 0; x < this.length; x++) {
      const root = this.find(x);
      if (this.#size[root] < 2) continue;
      let members = byRoot.get(root);
      if (!members) byRoot.set(root, members = []);
      members.push(x);
    }
    return [...byRoot.values()];
  }
}
