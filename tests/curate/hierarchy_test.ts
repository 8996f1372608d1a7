import { assertEquals, assertRejects, assertTrue as assert } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import {
  balancedCounts,
  balancedSample,
  type ClusterTree,
  hierarchicalKmeans,
} from "../../src/curate/hierarchy.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { Random } from "../helpers/random.ts";

Deno.test("balancedCounts: even shares, small groups give the rest to the others", () => {
  assertEquals(Array.from(balancedCounts([10, 10, 10], 9)), [3, 3, 3]);
  assertEquals(Array.from(balancedCounts([1, 100, 2], 12)), [1, 9, 2]);
  assertEquals(Array.from(balancedCounts([5, 5], 7)), [4, 3]); // ties: the first rounds up
  assertEquals(Array.from(balancedCounts([3, 4], 50)), [3, 4]);
});

Deno.test("balancedSample: top-down quotas, leaves pick their nearest rows", () => {
  // leaves 0, 1 under top 0; leaf 2 under top 1. Leaf 0 holds rows 0-5, leaf 1 rows 6-7,
  // leaf 2 rows 8-19; distances rise with the row.
  const tree: ClusterTree = {
    levels: [
      {
        k: 3,
        centroids: new Float32Array(3),
        parent: Int32Array.from([0, 0, 1]),
        sizes: Int32Array.from([6, 2, 12]),
      },
      {
        k: 2,
        centroids: new Float32Array(2),
        parent: Int32Array.from([-1, -1]),
        sizes: Int32Array.from([8, 12]),
      },
    ],
    leafOfRow: Int32Array.from({ length: 20 }, (_, row) => row < 6 ? 0 : row < 8 ? 1 : 2),
    distances: Float64Array.from({ length: 20 }, (_, row) => row),
  };
  // 10: 5 per top cluster; top 0 splits 5 as leaf 1 (2 rows) 2, leaf 0 3
  assertEquals(Array.from(balancedSample(tree, 10, { pick: "closest" })), [
    0,
    1,
    2,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
  ]);
  const random = balancedSample(tree, 10, { seed: 4 });
  assertEquals(random.length, 10);
  assertEquals(Array.from(random).filter((row) => row >= 8).length, 5);
  assertEquals(Array.from(random).filter((row) => row === 6 || row === 7).length, 2);
  assertEquals(balancedSample(tree, 100).length, 20);
});

gpuTest(
  "hierarchicalKmeans: nested levels, sizes add up, resampling keeps the tree whole",
  async () => {
    const random = new Random(12);
    const dim = 6;
    const centres = Array.from(
      { length: 8 },
      () => Array.from({ length: dim }, () => 8 * random.normal()),
    );
    const points = Float32Array.from(
      { length: 1200 * dim },
      (_, i) => centres[Math.floor(i / dim) % 8][i % dim] + random.normal(),
    );
    for (const resampleSteps of [0, 2]) {
      const tree = await hierarchicalKmeans({ data: points, dim }, {
        levels: [16, 4],
        iterations: 10,
        resampleSteps,
        sampleSize: 20,
        seed: 1,
      });
      assertEquals(
        tree.levels.map((level) => level.k),
        [16, 4],
      );
      assertEquals(tree.levels[0].sizes.reduce((a, b) => a + b, 0), 1200);
      assertEquals(tree.levels[1].sizes.reduce((a, b) => a + b, 0), 1200);
      assert(tree.levels[0].parent.every((parent) => parent >= 0 && parent < 4));
      assert(tree.levels[1].parent.every((parent) => parent === -1));
      const sample = balancedSample(tree, 400, { pick: "closest" });
      assertEquals(sample.length, 400);
      assertEquals(new Set(sample).size, 400);
    }
    await assertRejects(
      () => hierarchicalKmeans({ data: points, dim }, { levels: [16, 20] }),
      ShapeError,
      "level 1 has 20 clusters for 16 centroids",
    );
  },
);
