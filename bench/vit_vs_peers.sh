#!/usr/bin/env bash
# ViT inference (and the DINO training step) of dinogpu against what a user would run instead on
# the same machine, in one run: PyTorch on the CPU (bench/peers/torch_vit.py, Debian
# python3-torch) and onnxruntime-node on the CPU (bench/peers/onnx_vit.ts: the same ViT exported
# from PyTorch by bench/peers/export_vit_onnx.py; onnxruntime-node installed from npm with
# --ignore-scripts into OUT_DIR/onnxruntime, not a dependency of dinogpu). Same model size, input
# and batch for all; random weights and images. Prints the JSON lines and a table of ratios.
#
#   bash bench/vit_vs_peers.sh [OUT_DIR]       # default OUT_DIR: runs/vit_vs_peers
# Environment: DENO, PYTHON (default /usr/bin/python3), ARCH (small), PATCH (16), SIZE (224),
# BATCH (16), THREADS (nproc), MEASURE_SECONDS (10, per peer measurement), TRAIN (1: also the
# DINO step, with LOCAL_CROPS (4) local crops of 96 px and OUT_DIM (65536) prototypes; 0: inference
# only).
# A loaded machine slows PyTorch's OpenMP threads most: run it on an idle one.
set -euo pipefail
source "$(dirname "$0")/common.sh" runs/vit_vs_peers "$@"
PYTHON="${PYTHON:-/usr/bin/python3}"
arch="${ARCH:-small}" patch="${PATCH:-16}" size="${SIZE:-224}" batch="${BATCH:-16}"
threads="${THREADS:-$(nproc)}" seconds="${MEASURE_SECONDS:-10}"
train="${TRAIN:-1}" local_crops="${LOCAL_CROPS:-4}" out_dim="${OUT_DIM:-65536}"
if [ ! -d "$out/onnxruntime/node_modules/onnxruntime-node" ]; then
  npm install --ignore-scripts --no-save --no-audit --no-fund --prefix "$out/onnxruntime" \
    onnxruntime-node >/dev/null
fi
model="$out/vit_${arch}_${patch}_${size}_b${batch}.onnx"
[ -f "$model" ] || "$PYTHON" bench/peers/export_vit_onnx.py "$model" --arch "$arch" \
  --patch "$patch" --size "$size" --batch "$batch" 2>/dev/null
# Debian's python3-torch calls whatever libblas.so.3 the alternatives name: without OpenBLAS
# (libopenblas0-pthread) that is the reference BLAS, one thread and about 25x slower here (0.42
# images/s against 9.4-12 for the ViT-S/16 inference), which would make a meaningless peer. So the
# peer's 512^3 matrix product is timed first (5.5 GFLOP/s on the reference BLAS here, 185-190 on
# OpenBLAS with this machine's 2 cores).
blas_gflops=$("$PYTHON" -c 'import time, torch
a = torch.randn(512, 512); b = torch.randn(512, 512); best = 1e9
for _ in range(5):
    start = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - start)
print(round(2 * 512**3 / best / 1e9, 1))')
echo "PyTorch 512^3 matmul: $blas_gflops GFLOP/s"
if "$PYTHON" -c "import sys; sys.exit(0 if $blas_gflops >= 20 else 1)"; then :; else
  echo "vit_vs_peers: PyTorch's matmul runs at $blas_gflops GFLOP/s, a reference BLAS, not a" \
    "peer anyone would pick; install OpenBLAS (Debian: apt-get install libopenblas0-pthread)" >&2
  exit 1
fi
echo "uptime: $(uptime)"
: >"$out/results.jsonl"
"$DENO" run -A cli/main.ts bench model --arch "vit_$arch" --patch "$patch" --size "$size" \
  --batch "$batch" --json | tee -a "$out/results.jsonl"
if [ "$train" = 1 ]; then
  "$DENO" run -A cli/main.ts bench model --train --arch "vit_$arch" --patch "$patch" \
    --size "$size" --batch "$batch" --local-crops "$local_crops" --out-dim "$out_dim" --json |
    tee -a "$out/results.jsonl"
fi
torch_only=(--only inference)
[ "$train" = 1 ] && torch_only=()
"$PYTHON" bench/peers/torch_vit.py --device cpu --threads "$threads" --arch "$arch" \
  --patch "$patch" --size "$size" --batch "$batch" --local-crops "$local_crops" \
  --out-dim "$out_dim" --seconds "$seconds" "${torch_only[@]}" | tee -a "$out/results.jsonl"
"$DENO" run --allow-read --allow-env --allow-ffi --allow-sys bench/peers/onnx_vit.ts "$model" \
  "$out/onnxruntime" --threads "$threads" --seconds "$seconds" --batch "$batch" --size "$size" |
  tee -a "$out/results.jsonl"
"$PYTHON" - "$out/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
ours = {("train" if "localCrops" in r else "inference"): r
        for r in rows if "adapter" in r}
peers = [r for r in rows if "peer" in r]
print(f"\n| what | engine | images/s | dinogpu / engine |\n|---|---|---|---|")
for what in ("inference", "train"):
    mine = ours.get(what)
    if mine is None:
        continue
    rate = mine["imagesPerSecond"]
    print(f"| {what} | dinogpu ({mine['adapter']}) | {rate} | 1.00x |")
    for peer in peers:
        if peer["what"] == what:
            name = f"{peer['peer']} {peer['version']} {peer['device']}, {peer['threads']} threads"
            print(f"| {what} | {name} | {peer['images_per_second']} | "
                  f"{rate / peer['images_per_second']:.2f}x |")
PY
