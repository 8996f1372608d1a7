"""The faiss side of bench/curate_vs_faiss.sh (Debian python3-faiss, CPU).

On the same embedding folder as bench/curate_faiss_run.ts: exact k-NN (IndexFlatIP) of the first
QUERIES rows against all rows, and faiss.Kmeans (random init, the same iterations); prints one JSON
line with the times and the inertia, and compares the neighbours with dinogpu's (identical up to
ties: a position counts as different only when the similarities differ by more than 1e-5).

    python3 bench/peers/faiss_curate.py EMBEDDINGS_DIR OUT_DIR [QUERIES K CLUSTERS ITERATIONS]
"""
import json
import sys
import time

import faiss
import numpy as np


def main():
    folder, out = sys.argv[1], sys.argv[2]
    queries_count, k, clusters, iterations = (int(v) for v in (sys.argv[3:7] + ["10000", "10", "100", "25"][len(sys.argv[3:7]):]))
    index = json.load(open(f"{folder}/index.json"))
    data = np.concatenate([np.load(f"{folder}/{shard['file']}") for shard in index["shards"]])
    data = np.ascontiguousarray(data, dtype=np.float32)
    rows, dim = data.shape
    queries = data[:queries_count]

    flat = faiss.IndexFlatIP(dim)
    flat.add(data)
    flat.search(queries[:64], k)  # warm-up
    started = time.perf_counter()
    similarities, indices = flat.search(queries, k)
    knn_seconds = time.perf_counter() - started

    ours = np.load(f"{out}/dinogpu_indices.npy").astype(np.int64)
    our_similarities = np.load(f"{out}/dinogpu_similarities.npy")
    same_index = ours == indices
    near_tie = np.abs(our_similarities - similarities) <= 1e-5
    differing = int(np.sum(~same_index & ~near_tie))
    max_similarity_gap = float(np.max(np.abs(our_similarities - similarities)))

    kmeans = faiss.Kmeans(dim, clusters, niter=iterations, seed=1, verbose=False)
    started = time.perf_counter()
    kmeans.train(data)
    kmeans_seconds = time.perf_counter() - started
    distances, _ = kmeans.index.search(data, 1)
    inertia = float(np.sum(distances.astype(np.float64)))

    print(json.dumps({
        "rows": rows, "dim": dim, "queries": queries_count, "k": k,
        "knn_seconds": round(knn_seconds, 3),
        "neighbours_differing_beyond_ties": differing,
        "neighbours_same_index": int(np.sum(same_index)),
        "max_similarity_gap": max_similarity_gap,
        "clusters": clusters, "iterations": iterations,
        "kmeans_seconds": round(kmeans_seconds, 3), "kmeans_inertia": inertia,
        "threads": faiss.omp_get_max_threads(),
    }))


if __name__ == "__main__":
    main()
