// The top-k kernel of the k-NN (kernels/eval/knn_topk.wgsl through `knnTopK`) against a
// TypeScript reference: ties to the lower index, chunks merged, dispatches under lavapipe's loop
// limit, NaN never a neighbour, short rows padded.
import { assertEquals, assertTrue as assert } from "../helpers/assert.ts";
import { knnTopK, topKColumnsPerDispatch } from "../../src/eval/knn.ts";
import { readAll, Tensor, tensor } from "../../src/tensor/tensor.ts";
import { gpuTest } from "../helpers/gpu_test.ts";
import { Random } from "../helpers/random.ts";

gpuTest("knn: top-k kernel selects the reference neighbours, merged over chunks", async () => {
  const random = new Random(5);
  const rows = 9;
  const columns = 300;
  const k = 13;
  const values = Float32Array.from({ length: rows * columns }, () => random.uniform(-1, 1));
  // exact ties: the lower index must win
  values[5] = values[250] = 2;
  const got = await topKInChunks(values, rows, columns, k, [130, columns]);
  const expected = referenceTopK(values, rows, columns, k);
  for (let r = 0; r < rows; r++) {
    assertEquals(
      got.indices.slice(r * k, (r + 1) * k),
      expected.indices.slice(r * k, (r + 1) * k),
      `row ${r}`,
    );
    assertEquals(got.values[r * k], expected.values[r * k]);
  }
});

// Lavapipe ends a shader invocation silently after 65,535 loop iterations in all; each chunk
// must be split so no invocation of the top-k kernel loops longer.
gpuTest("knn: top-k over 70,000 ascending columns (insertion at the top) with a vote", async () => {
  const rows = 2;
  const columns = 70_000;
  const k = 64;
  const random = new Random(3);
  const values = new Float32Array(rows * columns);
  for (let j = 0; j < columns; j++) {
    values[j] = Math.floor(j / 3) / columns; // ascending with ties of three
    values[columns + j] = random.uniform(-1, 1);
  }
  const labels = tensor(Int32Array.from({ length: columns }, (_, j) => j % 7), [columns], "i32");
  const neighbours = { values: Tensor.empty([rows, k]), indices: Tensor.empty([rows, k], "i32") };
  const predictions = Tensor.empty([rows, 5], "i32");
  const similarity = tensor(values, [rows, columns]);
  knnTopK(similarity, labels, neighbours, {
    k,
    columnOffset: 0,
    merge: false,
    vote: { predictions, offset: 0, perRow: 5, classes: 7, temperature: 0.07 },
  });
  const [gotIndices] = await readAll([neighbours.indices]);
  const expected = referenceTopK(values, rows, columns, k).indices;
  for (let r = 0; r < rows; r++) {
    assertEquals(
      Array.from(gotIndices.subarray(r * k, (r + 1) * k)),
      expected.slice(r * k, (r + 1) * k),
      `row ${r}`,
    );
  }
  for (const t of [labels, neighbours.values, neighbours.indices, predictions, similarity]) {
    t.dispose();
  }
});

gpuTest("knn: top-k over 64 x 66,000 columns in one chunk finds the last column", async () => {
  const columns = 64 * 66_000;
  const values = new Float32Array(columns).fill(-1);
  values[columns - 1] = 1;
  values[columns - 2] = 0.5;
  const labels = tensor(new Int32Array(columns), [columns], "i32");
  const neighbours = { values: Tensor.empty([1, 2]), indices: Tensor.empty([1, 2], "i32") };
  const similarity = tensor(values, [1, columns]);
  knnTopK(similarity, labels, neighbours, { k: 2, columnOffset: 10, merge: false });
  const [gotValues, gotIndices] = await readAll([neighbours.values, neighbours.indices]);
  assertEquals(Array.from(gotIndices), [columns + 9, columns + 8]);
  assertEquals(Array.from(gotValues), [1, 0.5]);
  for (const t of [labels, neighbours.values, neighbours.indices, similarity]) t.dispose();
});

/** A uniform value in [-1, 1] rounded to eighths: few distinct values, so many exact ties. */
function quantised(random: Random): number {
  return Math.round(random.uniform(-1, 1) * 8) / 8;
}

/** What the top-k kernel writes in an empty slot. */
const LOWEST = Math.fround(-3e38);

/**
 * Reference top-k of each row of `values` [rows, columns]: value descending, index ascending on
 * ties, NaN never chosen, -1 and LOWEST past the row's non-NaN columns.
 */
function referenceTopK(values: Float32Array, rows: number, columns: number, k: number) {
  const indices: number[] = [];
  const best: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = values.subarray(r * columns, (r + 1) * columns);
    const order = Array.from({ length: columns }, (_, j) => j).filter((j) => !isNaN(row[j]));
    order.sort((a, b) => (row[a] < row[b] ? 1 : row[a] > row[b] ? -1 : a - b));
    for (let j = 0; j < k; j++) {
      indices.push(j < order.length ? order[j] : -1);
      best.push(j < order.length ? row[order[j]] : LOWEST);
    }
  }
  return { indices, values: best };
}

/**
 * `knnTopK` of `values` [rows, columns] given as similarity chunks ending at `ends` (the running
 * best merged from the second chunk on); returns the neighbours read back.
 */
async function topKInChunks(
  values: Float32Array,
  rows: number,
  columns: number,
  k: number,
  ends: number[] = [columns],
) {
  const labels = tensor(new Int32Array(1), [1], "i32"); // no vote: never read
  const neighbours = { values: Tensor.empty([rows, k]), indices: Tensor.empty([rows, k], "i32") };
  let start = 0;
  for (const [index, end] of ends.entries()) {
    const width = end - start;
    const chunk = new Float32Array(rows * width);
    for (let r = 0; r < rows; r++) {
      chunk.set(values.subarray(r * columns + start, r * columns + end), r * width);
    }
    const similarity = tensor(chunk, [rows, width]);
    knnTopK(similarity, labels, neighbours, { k, columnOffset: start, merge: index > 0 });
    similarity.dispose();
    start = end;
  }
  const [gotValues, gotIndices] = await readAll([neighbours.values, neighbours.indices]);
  for (const t of [labels, neighbours.values, neighbours.indices]) t.dispose();
  return { indices: Array.from(gotIndices), values: Array.from(gotValues) };
}

/** Asserts the kernel's neighbours equal the reference's, row by row. */
function assertSameTopK(
  got: { indices: number[]; values: number[] },
  expected: { indices: number[]; values: number[] },
  k: number,
  what: string,
) {
  for (let r = 0; r < expected.indices.length / k; r++) {
    assertEquals(
      got.indices.slice(r * k, (r + 1) * k),
      expected.indices.slice(r * k, (r + 1) * k),
      `${what}: indices of row ${r}`,
    );
    assertEquals(
      got.values.slice(r * k, (r + 1) * k),
      expected.values.slice(r * k, (r + 1) * k),
      `${what}: values of row ${r}`,
    );
  }
}

Deno.test("knn: top-k dispatches read a multiple of 256 columns, fewer as k grows", () => {
  let previous = Infinity;
  for (let k = 1; k <= 64; k++) {
    const plain = topKColumnsPerDispatch(k);
    const voting = topKColumnsPerDispatch(k, Math.min(5, k));
    assert(plain % 256 === 0 && voting % 256 === 0, `k ${k}: ${plain}, ${voting}`);
    assert(voting > 0 && voting <= plain && plain < previous, `k ${k}: ${plain}, ${voting}`);
    previous = plain;
  }
  // k = 64: 250 vec4 loads per thread (258 loop passes each) and 774 passes besides, margin 256
  assertEquals(topKColumnsPerDispatch(64), 64_000);
});

gpuTest(
  "knn: top-k of quantised data (many ties) equals the reference at k 1, 20, 64",
  async () => {
    const random = new Random(23);
    const rows = 7;
    const columns = 4_999; // rows start at every alignment: columns before and after the vec4s
    const values = Float32Array.from({ length: rows * columns }, () => quantised(random));
    values.fill(0.25, 2 * columns, 3 * columns); // all tied: more candidates than the merge pool
    for (let j = 0; j < columns; j++) values[3 * columns + j] = 1 - j / columns; // descending
    for (let j = 0; j < columns; j++) values[4 * columns + j] = Math.floor(j / 5) / columns;
    for (const k of [1, 20, 64]) {
      const expected = referenceTopK(values, rows, columns, k);
      assertSameTopK(await topKInChunks(values, rows, columns, k), expected, k, `k ${k}`);
      assertSameTopK(
        await topKInChunks(values, rows, columns, k, [1_001, 1_002, 3_333, columns]),
        expected,
        k,
        `k ${k} in chunks`,
      );
    }
  },
);

gpuTest("knn: top-k at k 64 over 100,003 columns in two chunks and three dispatches", async () => {
  const random = new Random(29);
  const rows = 3;
  const columns = 100_003;
  const split = 30_001;
  assert(columns - split > topKColumnsPerDispatch(64), "the second chunk takes two dispatches");
  const values = Float32Array.from({ length: rows * columns }, () => quantised(random));
  values[2 * columns + 99_999] = values[2 * columns + 7] = 3; // tie across chunks and dispatches
  const expected = referenceTopK(values, rows, columns, 64);
  assertSameTopK(await topKInChunks(values, rows, columns, 64, [split, columns]), expected, 64, "");
});

gpuTest(
  "knn: top-k at k 1 over 2,900,001 columns (two dispatches) keeps the lower index",
  async () => {
    const random = new Random(31);
    const rows = 2;
    const columns = 2_900_001;
    assert(columns > topKColumnsPerDispatch(1), "two dispatches");
    const values = Float32Array.from({ length: rows * columns }, () => random.uniform(-1, 1));
    values[100] = values[2_800_000] = 2; // the same best in both dispatches: column 100 wins
    values[columns + columns - 1] = 1.5; // the last column of the second row
    values[columns + 5] = NaN;
    const got = await topKInChunks(values, rows, columns, 1);
    assertEquals(got.indices, [100, columns - 1]);
    assertEquals(got.values, [2, 1.5]);
  },
);

/**
 * Rows of quantised similarities with a NaN in every fifth column or so (seeded); row 0 all NaN
 * (no candidate), row 1 NaN but for -Infinity at columns 4 and 9.
 */
function nanRows(seed: number, rows: number, columns: number): Float32Array {
  const random = new Random(seed);
  const values = Float32Array.from(
    { length: rows * columns },
    () => random.uniform(0, 1) < 0.2 ? NaN : quantised(random),
  );
  values.fill(NaN, 0, 2 * columns);
  values[columns + 9] = -Infinity;
  values[columns + 4] = -Infinity;
  return values;
}

gpuTest("knn: NaN similarities are never neighbours; -Infinity ones are", async () => {
  const rows = 5;
  const columns = 3_001;
  const k = 20;
  const values = nanRows(37, rows, columns);
  values[columns + 3_000] = 0.5; // row 1: 3 candidates, two of them -Infinity
  for (let j = 0; j < 300; j++) values[2 * columns + 10 * j] = NaN; // row 2: NaN every 10th column
  const got = await topKInChunks(values, rows, columns, k, [1_500, columns]);
  assertEquals(
    got.indices.slice(0, 3 * k),
    referenceTopK(values, rows, columns, k).indices.slice(0, 3 * k),
  );
  assertEquals(got.indices.slice(k, k + 4), [3_000, 4, 9, -1]);
  assertEquals(got.values.slice(k, k + 4), [0.5, -Infinity, -Infinity, LOWEST]);
  assertSameTopK(got, referenceTopK(values, rows, columns, k), k, "NaN");
});

gpuTest("knn: rows with fewer candidates than k pad with -1, also merged over chunks", async () => {
  const rows = 2;
  const columns = 7;
  const k = 20;
  const values = Float32Array.from([0.1, 0.5, 0.5, -0.2, 0.9, 0.5, 0, 3, 2, 1, 0, -1, -2, -3]);
  const expected = referenceTopK(values, rows, columns, k);
  assertEquals(expected.indices.slice(0, 8), [4, 1, 2, 5, 0, 6, 3, -1]);
  assertSameTopK(await topKInChunks(values, rows, columns, k), expected, k, "one chunk");
  assertSameTopK(await topKInChunks(values, rows, columns, k, [3, columns]), expected, k, "two");
});

gpuTest(
  "knn: k 1 (the nearest entry point): NaN never, -Infinity kept, empty rows, a vote",
  async () => {
    const rows = 4;
    const columns = 3_001;
    const values = nanRows(41, rows, columns); // row 1: only -Infinity, twice
    values[3 * columns + 2_999] = values[3 * columns + 1_600] = 2; // row 3: a tie across chunks
    const expected = referenceTopK(values, rows, columns, 1);
    assertEquals(expected.indices, [-1, 4, expected.indices[2], 1_600]);
    assertSameTopK(await topKInChunks(values, rows, columns, 1), expected, 1, "one chunk");
    assertSameTopK(
      await topKInChunks(values, rows, columns, 1, [1_500, columns]),
      expected,
      1,
      "two",
    );

    const labels = tensor(Int32Array.from({ length: columns }, (_, j) => j % 3), [columns], "i32");
    const neighbours = { values: Tensor.empty([rows, 1]), indices: Tensor.empty([rows, 1], "i32") };
    const predictions = Tensor.empty([rows, 2], "i32");
    const similarity = tensor(values, [rows, columns]);
    knnTopK(similarity, labels, neighbours, {
      k: 1,
      columnOffset: 0,
      merge: false,
      vote: { predictions, offset: 0, perRow: 2, classes: 3, temperature: 0.07 },
    });
    const [got] = await readAll([predictions]);
    // The neighbour's class, then the lowest other class; a row without a neighbour: 0, 1.
    const expectedPredictions = expected.indices.flatMap((j) => {
      const label = j < 0 ? 0 : j % 3;
      return j < 0 ? [0, 1] : [label, label === 0 ? 1 : 0];
    });
    assertEquals(Array.from(got), expectedPredictions);
    for (const t of [labels, neighbours.values, neighbours.indices, predictions, similarity]) {
      t.dispose();
    }
  },
);
