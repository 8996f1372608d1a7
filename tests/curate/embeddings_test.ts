import { assertEquals, assertRejects } from "../helpers/assert.ts";
import { CurateError, readEmbeddings, writeEmbeddings } from "../../src/curate/embeddings.ts";
import { writeNpy } from "../../src/io/npy.ts";

/** Row r of the fake features: [r + 1, 2 (r + 1), 2 (r + 1)] (norm 3 (r + 1)). */
function fakeRows(start: number, end: number): { data: Float32Array; dim: number } {
  const data = new Float32Array((end - start) * 3);
  for (let r = start; r < end; r++) data.set([r + 1, 2 * (r + 1), 2 * (r + 1)], (r - start) * 3);
  return { data, dim: 3 };
}

Deno.test("embeddings: shards resume after an interruption and read back normalised", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const names = Array.from({ length: 25 }, (_, i) => `train/${i}`);
    const calls: number[] = [];
    const options = { names, shardRows: 10, model: "pixels", source: "synthetic:25 train" };
    await assertRejects(
      () =>
        writeEmbeddings(dir, {
          ...options,
          featuresOf: (start, end) => {
            calls.push(start);
            if (start === 10) throw new Error("interrupted");
            return Promise.resolve(fakeRows(start, end));
          },
        }),
      Error,
      "interrupted",
    );
    await assertRejects(() => readEmbeddings(dir), CurateError, "10 of 25 rows embedded");
    const index = await writeEmbeddings(dir, {
      ...options,
      featuresOf: (start, end) => {
        calls.push(start);
        return Promise.resolve(fakeRows(start, end));
      },
    });
    assertEquals(calls, [0, 10, 10, 20]);
    assertEquals(index.shards.map((shard) => shard.rows), [10, 10, 5]);
    const read = await readEmbeddings(dir);
    assertEquals(read.names, names);
    assertEquals(read.dim, 3);
    assertEquals(Array.from(read.data.subarray(72, 75)).map((v) => v.toFixed(5)), [
      "0.33333",
      "0.66667",
      "0.66667",
    ]);
    // another model in the same folder is refused, naming both
    await assertRejects(
      () =>
        writeEmbeddings(dir, { ...options, model: "w.safetensors", featuresOf: fakeRows as never }),
      CurateError,
      'was written for model "pixels", this run has "w.safetensors"',
    );
    // a shard of another width, then a missing shard
    await Deno.writeFile(`${dir}/embeddings-00001.npy`, writeNpy(new Float32Array(40), [10, 4]));
    await assertRejects(
      () => readEmbeddings(dir),
      CurateError,
      "embeddings-00001.npy: shape (10, 4), the index says (10, 3)",
    );
    await Deno.remove(`${dir}/embeddings-00001.npy`);
    await assertRejects(
      () => readEmbeddings(dir),
      CurateError,
      "embeddings-00001.npy: missing shard",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
