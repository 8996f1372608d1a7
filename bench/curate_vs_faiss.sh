#!/usr/bin/env bash
# k-NN search and k-means of dinogpu (bench/curate_faiss_run.ts, WebGPU) against faiss on the CPU
# (bench/peers/faiss_curate.py, Debian python3-faiss) on the same 60,000 x D embeddings, in one run:
# Fashion-MNIST train as raw pixels (D = 784, `curate embed --features pixels`) unless
# EMBEDDINGS names a `curate embed` folder. Prints both JSON lines and the ratios.
#
#   bash bench/curate_vs_faiss.sh [OUT_DIR]          # default OUT_DIR: runs/curate_vs_faiss
# Environment: DENO, PYTHON (default /usr/bin/python3), EMBEDDINGS, QUERIES (10000), K (10),
# CLUSTERS (100), ITERATIONS (25).
set -euo pipefail
source "$(dirname "$0")/common.sh" runs/curate_vs_faiss "$@"
PYTHON="${PYTHON:-/usr/bin/python3}"
args=("${QUERIES:-10000}" "${K:-10}" "${CLUSTERS:-100}" "${ITERATIONS:-25}")
embeddings="${EMBEDDINGS:-$out/embeddings}"
if [ ! -f "$embeddings/index.json" ] || [ -z "${EMBEDDINGS:-}" ]; then
  "$DENO" run -A cli/main.ts curate embed --data fashion-mnist --features pixels \
    --out "$embeddings" --quiet
fi
echo "uptime: $(uptime)"
"$DENO" run -A bench/curate_faiss_run.ts "$embeddings" "$out" "${args[@]}" | tee "$out/dinogpu.json"
"$PYTHON" bench/peers/faiss_curate.py "$embeddings" "$out" "${args[@]}" | tee "$out/faiss.json"
"$PYTHON" - "$out" <<'PY'
import json, sys
ours = json.load(open(f"{sys.argv[1]}/dinogpu.json"))
theirs = json.load(open(f"{sys.argv[1]}/faiss.json"))
print(f"k-NN {ours['queries']} x {ours['rows']} x {ours['dim']} k={ours['k']}: dinogpu {ours['knn_seconds']} s, "
      f"faiss {theirs['knn_seconds']} s ({theirs['threads']} threads): dinogpu at "
      f"{theirs['knn_seconds'] / ours['knn_seconds']:.2f}x faiss's speed; neighbours differing beyond "
      f"ties: {theirs['neighbours_differing_beyond_ties']}")
print(f"k-means k={ours['clusters']} {ours['iterations']} iterations: dinogpu {ours['kmeans_seconds']} s "
      f"inertia {ours['kmeans_inertia']:.2f}, faiss {theirs['kmeans_seconds']} s inertia "
      f"{theirs['kmeans_inertia']:.2f} ({100 * (ours['kmeans_inertia'] / theirs['kmeans_inertia'] - 1):+.2f}%)")
PY
