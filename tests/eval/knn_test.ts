import {
  assertEquals,
  assertRejects,
  assertThrows,
  assertTrue as assert,
} from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { knnClassify, knnTopK, trainChunkBounds } from "../../src/eval/knn.ts";
import { Tensor, tensor } from "../../src/tensor/tensor.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { Random } from "../helpers/random.ts";

/** Float64 reference of DINO's weighted k-NN: neighbours (sim desc, index asc) and ranked classes. */
function referenceKnn(
  train: Float32Array,
  trainLabels: ArrayLike<number>,
  test: Float32Array,
  dim: number,
  k: number,
  temperature: number,
  classes: number,
) {
  const normalise = (data: Float32Array) => {
    const rows = data.length / dim;
    const out = new Float64Array(data.length);
    for (let r = 0; r < rows; r++) {
      let norm = 0;
      for (let d = 0; d < dim; d++) norm += data[r * dim + d] ** 2;
      norm = Math.max(Math.sqrt(norm), 1e-12);
      for (let d = 0; d < dim; d++) out[r * dim + d] = data[r * dim + d] / norm;
    }
    return out;
  };
  const a = normalise(test);
  const b = normalise(train);
  const nTest = test.length / dim;
  const nTrain = train.length / dim;
  const rows = [];
  for (let r = 0; r < nTest; r++) {
    const sims = Array.from({ length: nTrain }, (_, j) => {
      let s = 0;
      for (let d = 0; d < dim; d++) s += a[r * dim + d] * b[j * dim + d];
      return { s, j };
    });
    sims.sort((x, y) => y.s - x.s || x.j - y.j);
    const neighbours = sims.slice(0, k);
    const gap = nTrain > k ? sims[k - 1].s - sims[k].s : Infinity;
    const votes = new Float64Array(classes);
    for (const { s, j } of neighbours) votes[trainLabels[j]] += Math.exp(s / temperature);
    const ranked = Array.from({ length: classes }, (_, c) => c).sort((x, y) =>
      votes[y] - votes[x] || x - y
    );
    const sortedVotes = ranked.map((c) => votes[c]);
    rows.push({ neighbours, gap, ranked, sortedVotes });
  }
  return rows;
}

function clustered(random: Random, n: number, dim: number, classes: number, centres: number[][]) {
  const features = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = random.int(classes);
    labels[i] = label;
    for (let d = 0; d < dim; d++) features[i * dim + d] = centres[label][d] + 3 * random.normal();
  }
  return { features, labels };
}

gpuTest("knn: matches a float64 reference on clustered data (chunked and whole)", async () => {
  const random = new Random(11);
  const dim = 37;
  const classes = 7;
  const k = 20;
  const centres = Array.from(
    { length: classes },
    () => Array.from({ length: dim }, () => random.normal()),
  );
  const train = clustered(random, 700, dim, classes, centres);
  const test = clustered(random, 150, dim, classes, centres);
  const reference = referenceKnn(
    train.features,
    train.labels,
    test.features,
    dim,
    k,
    0.07,
    classes,
  );
  for (const options of [{ batchSize: 64, trainChunk: 128 }, { trainChunk: 203 }, {}]) {
    const result = await knnClassify(
      { features: train.features, dim, labels: train.labels },
      { features: test.features, dim, labels: test.labels },
      { k, ...options },
    );
    assertEquals(result.predictionsPerRow, 5);
    let compared = 0;
    let top1 = 0;
    let top5 = 0;
    reference.forEach((row, r) => {
      const label = test.labels[r];
      if (row.ranked[0] === label) top1++;
      if (row.ranked.slice(0, 5).includes(label)) top5++;
      if (row.gap < 1e-5) return; // near tie at the k-th neighbour
      for (let p = 0; p < 5; p++) {
        const next = row.sortedVotes[p + 1] ?? -1;
        if (row.sortedVotes[p] - next < 1e-4 * row.sortedVotes[0]) break; // near tie in the votes
        assertEquals(result.predictions[r * 5 + p], row.ranked[p], `row ${r} prediction ${p}`);
        compared++;
      }
    });
    assert(compared > 140, `only ${compared} predictions compared`);
    assert(Math.abs(result.top1 - top1 / 150) <= 2 / 150, `top1 ${result.top1} vs ${top1 / 150}`);
    assert(Math.abs(result.top5 - top5 / 150) <= 2 / 150, `top5 ${result.top5} vs ${top5 / 150}`);
    assert(result.top1 > 0.3 && result.top1 < 1, `top1 ${result.top1} should be informative`);
  }
});

Deno.test("knn: train chunks hold a multiple of 4 rows, the last < 4 rows on their own", () => {
  assertEquals(trainChunkBounds(700, 203), [[0, 200], [200, 400], [400, 600], [600, 700]]);
  assertEquals(trainChunkBounds(701, 1000), [[0, 700], [700, 701]]);
  assertEquals(trainChunkBounds(60000, 42799), [[0, 42796], [42796, 60000]]);
  assertEquals(trainChunkBounds(3, 2), [[0, 2], [2, 3]]);
  assertEquals(trainChunkBounds(0, 8), []);
});

gpuTest("knn: hand-made data gives the expected votes", async () => {
  // train: three near (1, 0) of class 0 at lower similarity, one exactly (0, 1) of class 1, one
  // of class 2 in the opposite direction.
  const train = Float32Array.from([1, 0.1, 1, 0.2, 1, 0.3, 0, 1, -1, 0]);
  const labels = [0, 0, 0, 1, 2];
  const test = Float32Array.from([0.2, 1, 1, 0, -1, -0.1]);
  // k = 4: row 0 is closest to class 1 (sim 1) and three class-0 rows at sims ~0.29..0.48:
  // exp(1 / 0.07) dominates, so class 1 wins; row 1 -> class 0; row 2 -> class 2.
  const result = await knnClassify(
    { features: train, dim: 2, labels },
    { features: test, dim: 2, labels: [1, 0, 0] },
    { k: 4, classes: 3 },
  );
  assertEquals(result.predictionsPerRow, 3);
  assertEquals(Array.from(result.predictions), [1, 0, 2, 0, 1, 2, 2, 1, 0]);
  assertEquals(result.top1, 2 / 3);
  assertEquals(result.top5, 1);
  // with a high temperature the three class-0 votes outweigh the single class-1 vote
  const warm = await knnClassify(
    { features: train, dim: 2, labels },
    { features: test.subarray(0, 2), dim: 2, labels: [1] },
    { k: 4, classes: 3, temperature: 100 },
  );
  assertEquals(warm.predictions[0], 0);
});

gpuTest("knn: bad input is refused with the sizes", async () => {
  const features = new Float32Array(6);
  await assertRejects(
    () =>
      knnClassify(
        { features, dim: 3, labels: [0, 1] },
        { features: new Float32Array(4), dim: 2, labels: [0, 1] },
      ),
    ShapeError,
    "feature dims differ",
  );
  const labels = tensor([0], [1], "i32");
  const neighbours = { values: Tensor.empty([1, 2]), indices: Tensor.empty([1, 2], "i32") };
  const similarity = tensor([1, 2], [1, 2]);
  assertThrows(
    () => knnTopK(similarity, labels, neighbours, { k: 65, columnOffset: 0, merge: false }),
    ShapeError,
    "k must be a whole number in 1..64",
  );
  for (const t of [labels, neighbours.values, neighbours.indices, similarity]) t.dispose();
});

/** Indices of the k largest values of `values` (value descending, index ascending on ties). */
