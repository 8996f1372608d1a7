/**
 * dinogpu's side of bench/curate_vs_faiss.sh: on an embedding folder (`curate embed`), the exact
 * k-NN of its first QUERIES rows against all rows (k nearest by inner product) and k-means
 * (random init, ITERATIONS Lloyd iterations); prints one JSON line with the times and the
 * inertia, and writes the neighbours (indices as float32 .npy) for the peer to compare.
 *
 *   deno run -A bench/curate_faiss_run.ts EMBEDDINGS_DIR OUT_DIR [QUERIES K CLUSTERS ITERATIONS]
 * @module
 */
import { readEmbeddings } from "../src/curate/embeddings.ts";
import { kmeans } from "../src/curate/kmeans.ts";
import { knnSearch } from "../src/curate/knn_search.ts";
import { initGpu } from "../src/gpu/device.ts";
import { writeNpy } from "../src/io/npy.ts";

const [dir, out, queriesText = "10000", kText = "10", clustersText = "100", iterText = "25"] =
  Deno.args;
if (!dir || !out) {
  console.error(
    "usage: curate_faiss_run.ts EMBEDDINGS_DIR OUT_DIR [QUERIES K CLUSTERS ITERATIONS]",
  );
  Deno.exit(2);
}
const [queryRows, k, clusters, iterations] = [queriesText, kText, clustersText, iterText].map(
  Number,
);
await initGpu();
const embeddings = await readEmbeddings(dir);
const { dim } = embeddings;
const rows = embeddings.data.length / dim;
const queries = { data: embeddings.data.subarray(0, queryRows * dim), dim };

// warm-up (pipeline creation) on a small problem, then the timed runs
await knnSearch({ data: queries.data.subarray(0, 64 * dim), dim }, embeddings, { k });
let started = performance.now();
const neighbours = await knnSearch(queries, embeddings, { k, batchSize: 1024 });
const knnSeconds = (performance.now() - started) / 1000;
await Deno.mkdir(out, { recursive: true });
await Deno.writeFile(
  `${out}/dinogpu_indices.npy`,
  writeNpy(Float32Array.from(neighbours.indices), [queryRows, k]),
);
await Deno.writeFile(
  `${out}/dinogpu_similarities.npy`,
  writeNpy(neighbours.similarities, [queryRows, k]),
);

started = performance.now();
const result = await kmeans(embeddings, { k: clusters, iterations, init: "random", seed: 1 });
const kmeansSeconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({
  rows,
  dim,
  queries: queryRows,
  k,
  knn_seconds: Number(knnSeconds.toFixed(3)),
  clusters,
  iterations,
  kmeans_seconds: Number(kmeansSeconds.toFixed(3)),
  kmeans_inertia: result.inertia,
}));
