import { assertEquals, assertThrows } from "../helpers/assert.ts";
import { dedup, dedupComponents } from "../../src/curate/dedup.ts";
import { UnionFind } from "../../src/curate/union_find.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { Random } from "../helpers/random.ts";

Deno.test("UnionFind: components equal a flood fill of random edges", () => {
  const random = new Random(8);
  const n = 300;
  const sets = new UnionFind(n);
  const adjacency: number[][] = Array.from({ length: n }, () => []);
  for (let e = 0; e < 220; e++) {
    const a = random.int(n);
    const b = random.int(n);
    sets.union(a, b);
    adjacency[a].push(b);
    adjacency[b].push(a);
  }
  const label = new Int32Array(n).fill(-1);
  for (let start = 0; start < n; start++) {
    if (label[start] >= 0) continue;
    const stack = [start];
    label[start] = start;
    while (stack.length) {
      for (const next of adjacency[stack.pop()!]) {
        if (label[next] < 0) {
          label[next] = start;
          stack.push(next);
        }
      }
    }
  }
  const expected = new Map<number, number[]>();
  for (let x = 0; x < n; x++) expected.set(label[x], [...(expected.get(label[x]) ?? []), x]);
  assertEquals(sets.groups(), [...expected.values()].filter((members) => members.length > 1));
  for (let x = 0; x < n; x++) assertEquals(sets.find(x) === sets.find(label[x]), true);
  assertThrows(() => new UnionFind(-1), RangeError, "size must be a whole number >= 0, got -1");
});

/** Unit vectors at `degrees` as rows [n, 2]. */
function angles(...degrees: number[]): Float32Array {
  return Float32Array.from(
    degrees.flatMap((a) => [Math.cos(a * Math.PI / 180), Math.sin(a * Math.PI / 180)]),
  );
}

gpuTest(
  "dedup: chained near-duplicates form one group, the first row kept; decontamination",
  async () => {
    // 0-1 and 1-2 are 15 degrees apart (cos 0.966 > 0.95), 0-2 30 degrees: one component by chain.
    const embeddings = { data: angles(0, 15, 30, 90, 100, 180, 250), dim: 2 };
    const plain = await dedup(embeddings, { k: 4, threshold: 0.95 });
    assertEquals(Array.from(plain.kept), [0, 3, 5, 6]);
    assertEquals(Array.from(plain.removed), [1, 2, 4]);
    assertEquals(plain.groups.map((group) => group.members), [[0, 1, 2], [3, 4]]);
    assertEquals(plain.groups[0].contaminated, false);
    const cosines = plain.groups[0].similarities.map((s) => Number(s.toFixed(4)));
    assertEquals(cosines, [1, 0.9659, 0.866]);
    // a reference image at 95 degrees touches 3 and 4 (cos 5 degrees), one at 252 touches 6
    const against = { data: angles(95, 252), dim: 2 };
    const clean = await dedup(embeddings, {
      k: 4,
      threshold: 0.95,
      against,
      againstThreshold: 0.99,
    });
    assertEquals(Array.from(clean.kept), [0, 5]);
    assertEquals(Array.from(clean.removed), [1, 2, 3, 4, 6]);
    assertEquals(Array.from(clean.touching), [3, 4, 6]);
    assertEquals(
      clean.groups.map((group) => [group.members, group.contaminated]),
      [[[0, 1, 2], false], [[3, 4], true], [[6], true]],
    );
  },
);

Deno.test("dedupComponents: deterministic whatever the neighbour order; refuses a bad shape", () => {
  const embeddings = { data: angles(0, 1, 2, 90), dim: 2 };
  // row 2 lists 0 and 1 as neighbours; rows 0 and 1 list nothing above the threshold
  const neighbours = {
    k: 2,
    indices: Int32Array.from([0, 3, 1, 3, 1, 0, 3, -1]),
    similarities: Float32Array.from([1, 0, 1, 0, 0.9998, 0.9994, 1, -Infinity]),
  };
  const result = dedupComponents(embeddings, neighbours, 0.99);
  assertEquals(Array.from(result.kept), [0, 3]);
  assertEquals(result.groups.map((group) => group.members), [[0, 1, 2]]);
  assertEquals(result.edges, 2);
  assertThrows(
    () => dedupComponents(embeddings, { ...neighbours, k: 3 }, 0.9),
    Error,
    "8 neighbours for 4 rows x k 3",
  );
});
