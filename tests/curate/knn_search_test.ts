import { assertEquals, assertRejects } from "../helpers/assert.ts";
import { ShapeError } from "../../src/gpu/errors.ts";
import { knnSearch, normalizeRows } from "../../src/curate/knn_search.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { Random } from "../helpers/random.ts";

/** Float64 brute force: the k best bank rows of each query, similarity descending, row ascending. */
function bruteForce(queries: Float32Array, bank: Float32Array, dim: number, k: number) {
  const bankRows = bank.length / dim;
  const result: { indices: number[]; similarities: number[] }[] = [];
  for (let q = 0; q < queries.length / dim; q++) {
    const scores = new Float64Array(bankRows);
    for (let j = 0; j < bankRows; j++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += queries[q * dim + d] * bank[j * dim + d];
      scores[j] = s;
    }
    const order = Array.from({ length: bankRows }, (_, j) => j)
      .sort((a, b) => scores[b] - scores[a] || a - b).slice(0, k);
    result.push({ indices: order, similarities: order.map((j) => scores[j]) });
  }
  return result;
}

// Small integer values make every similarity exact in f32 and give many exact ties, which must
// go to the lowest bank row; 70,000 rows pass lavapipe's 65,535-iteration loop limit.
gpuTest(
  "knnSearch: 70,000-row bank equals a float64 brute force, ties lowest row first",
  async () => {
    const random = new Random(21);
    const dim = 8;
    const bankRows = 70_000;
    const k = 10;
    const bank = Float32Array.from({ length: bankRows * dim }, () => random.int(5) - 2);
    const queries = Float32Array.from({ length: 24 * dim }, () => random.int(5) - 2);
    // a query equal to the bank's last row, scaled up so that row is its only best match
    queries.set(bank.subarray((bankRows - 1) * dim).map((v) => v * 2), 0);
    const expected = bruteForce(queries, bank, dim, k);
    for (const options of [{}, { bankChunk: 30_001, batchSize: 7 }]) {
      const got = await knnSearch({ data: queries, dim }, { data: bank, dim }, { k, ...options });
      expected.forEach((row, q) => {
        assertEquals(
          Array.from(got.indices.subarray(q * k, (q + 1) * k)),
          row.indices,
          `query ${q}`,
        );
        assertEquals(
          Array.from(got.similarities.subarray(q * k, (q + 1) * k)),
          row.similarities,
          `query ${q} similarities`,
        );
      });
    }
  },
);

gpuTest("knnSearch: normalised rows give cosines; fewer bank rows than k pad with -1", async () => {
  const random = new Random(4);
  const dim = 5;
  const bank = normalizeRows(Float32Array.from({ length: 3 * dim }, () => random.normal()), dim);
  const got = await knnSearch({ data: bank, dim }, { data: bank, dim }, { k: 4 });
  for (let q = 0; q < 3; q++) {
    assertEquals(got.indices[q * 4], q);
    assertEquals(Math.abs(got.similarities[q * 4] - 1) < 1e-6, true);
    assertEquals(got.indices[q * 4 + 3], -1);
    assertEquals(got.similarities[q * 4 + 3], -Infinity);
  }
  await assertRejects(
    () => knnSearch({ data: bank, dim }, { data: new Float32Array(8), dim: 4 }, { k: 1 }),
    ShapeError,
    "queries have 5 values per row, the bank 4",
  );
});
