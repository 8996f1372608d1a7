import { assertEquals, assertRejects, assertTrue as assert } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { GpuPoints, kmeans, updateCentroids } from "../../src/curate/kmeans.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { Random } from "../helpers/random.ts";

/** Float64 nearest centroid of each point (lowest centroid on ties) and the squared distance. */
function nearestReference(points: Float32Array, centroids: Float32Array, dim: number) {
  const rows = points.length / dim;
  const k = centroids.length / dim;
  const assignment = new Int32Array(rows);
  const distances = new Float64Array(rows);
  const margins = new Float64Array(rows);
  for (let row = 0; row < rows; row++) {
    let best = Infinity;
    let second = Infinity;
    for (let c = 0; c < k; c++) {
      let distance = 0;
      for (let d = 0; d < dim; d++) {
        distance += (points[row * dim + d] - centroids[c * dim + d]) ** 2;
      }
      if (distance < best) {
        second = best;
        best = distance;
        assignment[row] = c;
      } else if (distance < second) second = distance;
    }
    distances[row] = best;
    margins[row] = second - best;
  }
  return { assignment, distances, margins };
}

// Integer points and centroids make every score exact, so ties are real and go to the lowest
// centroid; 70,000 points pass lavapipe's loop limit.
gpuTest("kmeans: nearest centroids of 70,000 points equal a float64 brute force", async () => {
  const random = new Random(2);
  const dim = 8;
  const points = Float32Array.from({ length: 70_000 * dim }, () => random.int(7) - 3);
  const centroids = Float32Array.from({ length: 300 * dim }, () => random.int(7) - 3);
  const expected = nearestReference(points, centroids, dim);
  for (const chunkRows of [undefined, 25_000]) {
    const gpuPoints = new GpuPoints({ data: points, dim }, chunkRows);
    const got = await gpuPoints.nearest(centroids);
    gpuPoints.dispose();
    assertEquals(got.assignment, expected.assignment);
    assertEquals(got.distances, expected.distances);
  }
});

/** Points around `k` well separated centres. */
function blobs(random: Random, rows: number, dim: number, k: number): Float32Array {
  const centres = Array.from(
    { length: k },
    () => Array.from({ length: dim }, () => 10 * random.normal()),
  );
  return Float32Array.from(
    { length: rows * dim },
    (_, i) => centres[Math.floor(i / dim) % k][i % dim] + random.normal(),
  );
}

gpuTest(
  "kmeans: iterations follow a float64 host Lloyd step, inertia falls, result consistent",
  async () => {
    const random = new Random(6);
    const dim = 16;
    const points = blobs(random, 3000, dim, 9);
    for (const [init, k] of [["random", 12], ["kmeans++", 9]] as const) {
      const inertias: number[] = [];
      const result = await kmeans({ data: points, dim }, {
        k,
        iterations: 8,
        init,
        seed: 1,
        onIteration: (_, inertia) => inertias.push(inertia),
      });
      // the first two iterations from the same init, on the host (later ones may part at a near tie)
      let { centroids } = await kmeans({ data: points, dim }, { k, iterations: 0, init, seed: 1 });
      for (let iteration = 0; iteration < 2; iteration++) {
        const { assignment, distances } = nearestReference(points, centroids, dim);
        const inertia = distances.reduce((a, b) => a + b, 0);
        assert(
          Math.abs(inertia - inertias[iteration]) <= 1e-4 * inertia,
          `${init} iteration ${iteration}: ${inertias[iteration]} vs ${inertia}`,
        );
        centroids = updateCentroids({ data: points, dim }, assignment, k, centroids).centroids;
      }
      inertias.push(result.inertia);
      inertias.forEach((inertia, i) => {
        if (i > 0) {
          assert(inertia <= inertias[i - 1] * (1 + 1e-5), `${init}: inertia rose ${inertias}`);
        }
      });
      // the result's assignment is the nearest of its centroids (where not a near tie)
      const final = nearestReference(points, result.centroids, dim);
      let compared = 0;
      final.assignment.forEach((cluster, row) => {
        if (final.margins[row] < 1e-3 * final.distances[row]) return;
        assertEquals(result.assignment[row], cluster, `${init} row ${row}`);
        compared++;
      });
      assert(compared > 2900, `${init}: only ${compared} clear assignments`);
      assertEquals(result.sizes.reduce((a, b) => a + b, 0), 3000);
      const expected = final.distances.reduce((a, b) => a + b, 0);
      assert(
        Math.abs(result.inertia - expected) < 1e-4 * expected,
        `${result.inertia} vs ${expected}`,
      );
      if (init === "kmeans++") {
        // one centroid per blob (k-means++ from seed 1 draws one in each; not every seed does):
        // the inertia is the noise's, dim per point
        assert(result.inertia / 3000 < 1.2 * dim, `inertia per point ${result.inertia / 3000}`);
      }
    }
    await assertRejects(
      () => kmeans({ data: points, dim }, { k: 3001 }),
      ShapeError,
      "k must be a whole number in 1..3000",
    );
  },
);

Deno.test("updateCentroids: an empty cluster takes half of the largest", () => {
  const points = { data: Float32Array.from([0, 0, 2, 2, 4, 4, 10, 10]), dim: 2 };
  const { centroids, sizes } = updateCentroids(
    points,
    Int32Array.from([0, 0, 0, 1]),
    3,
    new Float32Array(6),
  );
  assertEquals(Array.from(sizes), [2, 1, 1]);
  assertEquals(Array.from(centroids.subarray(2, 4)), [10, 10]);
  assertEquals(
    Array.from(centroids.subarray(4, 6)),
    [2 * (1 + 1 / 1024), 2 * (1 - 1 / 1024)].map(Math.fround),
  );
  assertEquals(
    Array.from(centroids.subarray(0, 2)),
    [2 * (1 - 1 / 1024), 2 * (1 + 1 / 1024)].map(Math.fround),
  );
});
