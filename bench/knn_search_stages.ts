/**
 * Where the time of a brute-force k-NN search goes: for QUERIES random unit queries against a
 * BANK-row bank of random unit rows (DIM values each, seeded), the similarity matmul alone, the
 * top-k alone (`knnTopK` on precomputed similarity batches) and the whole search (as
 * `knnSearch` does it: upload each query batch, matmul, top-k, read the neighbours back), for
 * each k, best of REPS runs. With `--old REF` the top-k kernel of git revision REF
 * (`git show REF:kernels/eval/knn_topk.wgsl`, loaded at run time under the name
 * `extra:knn_topk_old` and launched with that revision's column ranges, given below) is timed too,
 * alternating with the current one; each line ends with a checksum of the neighbours, which must
 * be the same for both.
 *
 *   deno run --allow-read --allow-env --allow-ffi --allow-run --allow-sys=loadavg \
 *     bench/knn_search_stages.ts \
 *     [--old main] [--k 1,20,64] [--queries 2000] [--bank 20000] [--dim 384] [--reps 2] \
 *     [--batch 1024]
 * @module
 */
import { gpu, initGpu } from "../src/gpu/device.ts";
import { flatWorkgroups, LAVAPIPE_LOOP_LIMIT } from "../src/gpu/launch.ts";
import { registerKernelSource } from "../src/gpu/pipeline_cache.ts";
import { type KnnNeighbours, knnTopK } from "../src/eval/knn.ts";
import { normalizeRows } from "../src/curate/knn_search.ts";
import { matmul } from "../src/ops/matmul/forward.ts";
import { noGrad } from "../src/tensor/tape.ts";
import { readAll, Tensor, tensor } from "../src/tensor/tensor.ts";
import { resolveIncludes } from "../tools/embed_kernels.ts";
import { randomValues } from "./random_values.ts";

const args: Record<string, string> = {
  k: "1,20,64",
  queries: "2000",
  bank: "20000",
  dim: "384",
  reps: "2",
  batch: "1024",
};
for (let i = 0; i < Deno.args.length; i += 2) {
  const name = Deno.args[i].replace(/^--/, "");
  if (!Deno.args[i].startsWith("--") || Deno.args[i + 1] === undefined) {
    throw new Error(`usage: [--old REF] [--k 1,20,64] [--queries N] [--bank N] [--dim N] ...`);
  }
  args[name] = Deno.args[i + 1];
}
const ks = args.k.split(",").map(Number);
const [queryRows, bankRows, dim, reps, batchSize] = [
  args.queries,
  args.bank,
  args.dim,
  args.reps,
  args.batch,
].map(Number);

type TopK = (similarity: Tensor, best: KnnNeighbours, k: number) => void;

/** The current kernel, through `knnTopK`. */
const currentTopK: TopK = (similarity, best, k) => {
  knnTopK(similarity, labelsTensor(), best, { k, columnOffset: 0, merge: false });
};

/** Columns per dispatch of the kernel of main before issue 23 (no vote), as main computed them. */
function oldColumnsPerDispatch(k: number): number {
  const rounds = (k + 1) + k * (Math.log2(64) + 1);
  const budget = LAVAPIPE_LOOP_LIMIT - 64 - rounds - 2;
  return 64 * (Math.floor(budget / (k + 1)) - 1) - k;
}

/** The top-k kernel of git revision `ref`, launched as that revision's `knnTopK` did (no vote). */
async function oldTopK(ref: string): Promise<TopK> {
  const output = await new Deno.Command("git", {
    args: ["show", `${ref}:kernels/eval/knn_topk.wgsl`],
    stdout: "piped",
  }).output();
  if (!output.success) throw new Error(`git show ${ref}:kernels/eval/knn_topk.wgsl failed`);
  const source = await resolveIncludes("eval/knn_topk", new TextDecoder().decode(output.stdout));
  const kernel = registerKernelSource("knn_topk_old", source);
  return (similarity, best, k) => {
    const [rows, columns] = similarity.shape;
    const perDispatch = oldColumnsPerDispatch(k);
    const ranges: [number, number][] = [];
    let end = columns;
    do {
      const begin = Math.max(0, end - perDispatch);
      ranges.unshift([begin, end]);
      end = begin;
    } while (end > 0);
    ranges.forEach(([begin, rangeEnd], index) => {
      const words = new Uint32Array(12);
      words.set([rows, columns, k, 0, index > 0 ? 1 : 0, 0], 0);
      new Float32Array(words.buffer, 24, 1)[0] = 1;
      words.set([0, 1, 1, begin, rangeEnd], 7);
      gpu().dispatch({
        kernel,
        constants: { WORKGROUP_SIZE: 64 },
        buffers: [
          similarity.buffer,
          labelsTensor().buffer,
          best.values.buffer,
          best.indices.buffer,
          best.indices.buffer,
        ],
        params: words,
        workgroups: flatWorkgroups(rows, 1),
      });
    });
  };
}

let labels: Tensor | undefined;
function labelsTensor(): Tensor {
  return labels ??= tensor(new Int32Array(1), [1], "i32"); // no vote: never read
}

/** Neighbours of a batch of `rows` rows, empty. */
function emptyNeighbours(rows: number, k: number): KnnNeighbours {
  return { values: Tensor.empty([rows, k]), indices: Tensor.empty([rows, k], "i32") };
}

/** A checksum of the neighbour indices (each weighted by its rank) and the sum of the values. */
function checksum(indices: Int32Array, values: Float32Array, k: number): string {
  let sum = 0;
  let valueSum = 0;
  for (let i = 0; i < indices.length; i++) {
    sum = (sum + (indices[i] + 1) * ((i % k) + 1)) % 1_000_000_007;
    valueSum += values[i];
  }
  return `${sum}/${valueSum.toFixed(3)}`;
}

await initGpu();
const queries = normalizeRows(randomValues(queryRows * dim, 1), dim);
const bankData = normalizeRows(randomValues(bankRows * dim, 2), dim);
const bank = tensor(bankData, [bankRows, dim]);
const batches: [number, number][] = [];
for (let start = 0; start < queryRows; start += batchSize) {
  batches.push([start, Math.min(queryRows, start + batchSize)]);
}
const queryTensors = batches.map(([start, end]) =>
  tensor(queries.subarray(start * dim, end * dim), [end - start, dim])
);

const variants: [string, TopK][] = [];
if (args.old) variants.push([`old (${args.old})`, await oldTopK(args.old)]);
variants.push(["new (worktree)", currentTopK]);

/** The 1, 5 and 15 minute load averages, or why not. */
function loadAverage(): string {
  try {
    return Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  } catch {
    return "unknown (run with --allow-sys=loadavg)";
  }
}

/** Seconds of `run` (which ends with a readback or a sync). */
async function timed(run: () => Promise<string | void>): Promise<[number, string | void]> {
  const started = performance.now();
  const result = await run();
  return [(performance.now() - started) / 1000, result];
}

// Warm-up: pipelines of the matmul and of every top-k variant at every k.
noGrad(() => {
  const similarity = matmul(queryTensors[0], bank, { transposeB: true });
  for (const [, topK] of variants) {
    for (const k of ks) {
      const best = emptyNeighbours(similarity.shape[0], k);
      topK(similarity, best, k);
      best.values.dispose();
      best.indices.dispose();
    }
  }
  similarity.dispose();
});
await gpu().sync();

let matmulBest = Infinity;
for (let rep = 0; rep < reps; rep++) {
  const [seconds] = await timed(async () => {
    noGrad(() => {
      for (const query of queryTensors) matmul(query, bank, { transposeB: true }).dispose();
    });
    await gpu().sync();
  });
  matmulBest = Math.min(matmulBest, seconds);
}
console.log(
  `load average ${loadAverage()}; ${queryRows} queries x ${bankRows} ` +
    `bank x ${dim} dims, batches of ${batchSize}, best of ${reps}`,
);
console.log(`matmul alone: ${matmulBest.toFixed(3)} s`);

const similarities = noGrad(() =>
  queryTensors.map((query) => matmul(query, bank, { transposeB: true }))
);
await gpu().sync();
for (const k of ks) {
  const topKBest = new Map<string, number>();
  const searchBest = new Map<string, number>();
  const sums = new Map<string, string>();
  for (let rep = 0; rep < reps; rep++) {
    for (const [name, topK] of variants) {
      // the top-k alone, on the precomputed similarity batches
      const [topKSeconds, sum] = await timed(async () => {
        const found = similarities.map((similarity) => {
          const best = emptyNeighbours(similarity.shape[0], k);
          topK(similarity, best, k);
          return best;
        });
        const read = await readAll(found.flatMap((best) => [best.indices, best.values]));
        for (const best of found) {
          best.values.dispose();
          best.indices.dispose();
        }
        const indices = new Int32Array(queryRows * k);
        const values = new Float32Array(queryRows * k);
        batches.forEach(([start], b) => {
          indices.set(read[2 * b] as Int32Array, start * k);
          values.set(read[2 * b + 1] as Float32Array, start * k);
        });
        return checksum(indices, values, k);
      });
      // the whole search, as knnSearch: upload, matmul, top-k, readback per batch
      const [searchSeconds, searchSum] = await timed(async () => {
        const indices = new Int32Array(queryRows * k);
        const values = new Float32Array(queryRows * k);
        for (const [start, end] of batches) {
          const best = noGrad(() => {
            const query = tensor(queries.subarray(start * dim, end * dim), [end - start, dim]);
            const similarity = matmul(query, bank, { transposeB: true });
            const best = emptyNeighbours(end - start, k);
            topK(similarity, best, k);
            query.dispose();
            similarity.dispose();
            return best;
          });
          gpu().flush();
          const [batchIndices, batchValues] = await readAll([best.indices, best.values]);
          best.values.dispose();
          best.indices.dispose();
          indices.set(batchIndices as Int32Array, start * k);
          values.set(batchValues as Float32Array, start * k);
        }
        return checksum(indices, values, k);
      });
      if (sum !== searchSum) throw new Error(`${name} k ${k}: checksums ${sum} vs ${searchSum}`);
      sums.set(name, sum as string);
      topKBest.set(name, Math.min(topKBest.get(name) ?? Infinity, topKSeconds));
      searchBest.set(name, Math.min(searchBest.get(name) ?? Infinity, searchSeconds));
    }
  }
  for (const [name] of variants) {
    console.log(
      `k ${String(k).padStart(2)} ${name.padEnd(16)} top-k alone ${
        topKBest.get(name)!.toFixed(3)
      } s, whole search ${searchBest.get(name)!.toFixed(3)} s, checksum ${sums.get(name)}`,
    );
  }
  if (variants.length === 2) {
    const [[oldName], [newName]] = variants;
    const same = sums.get(oldName) === sums.get(newName) ? "same neighbours" : "NEIGHBOURS DIFFER";
    console.log(
      `k ${String(k).padStart(2)} old/new: top-k ${
        (topKBest.get(oldName)! / topKBest.get(newName)!).toFixed(2)
      }x, whole search ${
        (searchBest.get(oldName)! / searchBest.get(newName)!).toFixed(2)
      }x, ${same}`,
    );
  }
}
for (const t of [...similarities, ...queryTensors, bank]) t.dispose();
labels?.dispose();
