#!/usr/bin/env bash
# The checks only a machine with a real GPU can make, in one go: what Deno's WebGPU finds there,
# the speed benchmarks (matmul, ViT inference, `bench model --train`: a ViT-S/16 DINO training step
# on one batch, and a short `train` run with and without a GPU kernel profile), the PyTorch peer on the same machine (CUDA f32, CUDA bf16 autocast, CPU), and the
# whole test suite on that adapter; then one table (bench/gpu_check_table.ts).
#
#   bash bench/gpu_check.sh [OUT_DIR]           # default OUT_DIR: runs/gpu_check
#
# Every step writes its JSON or log to OUT_DIR and a failed step never stops the others.
# Environment:
#   DENO                     the deno binary (default node_modules/deno/deno, else deno on PATH)
#   PYTHON                   the Python with torch for the peer (default python3; skipped without torch)
#   DENO_WEBGPU_BACKEND      left as set; dinogpu picks Vulkan where a Vulkan driver is installed
#   GPU_CHECK_QUICK=1        small shapes, to try the script on a software adapter in a minute
#   GPU_CHECK_TEST_SECONDS   time limit of the test suite (default 300)
#   GPU_CHECK_SKIP=a,b       steps to skip: info,matmul,attention,model,train,profile,tune,torch,
#                            tests
set -uo pipefail
source "$(dirname "$0")/common.sh" runs/gpu_check "$@"
PYTHON="${PYTHON:-python3}"
skip=",${GPU_CHECK_SKIP:-},"
cli=("$DENO" run --allow-read --allow-write --allow-env --allow-sys=statfs --allow-ffi cli/main.ts)

if [ "${GPU_CHECK_QUICK:-0}" = 1 ]; then
  matmul_shapes=("256 256 256" "64 64 512 --transpose-a")
  # the last run is the training step the tune step runs again
  model_runs=("vit_tiny 16 64 4"
    "vit_tiny 16 64 4 --train --local-size 32 --local-crops 2 --out-dim 1024 --precision f16"
    "vit_tiny 16 64 4 --train --local-size 32 --local-crops 2 --out-dim 1024")
  train_flags=(--data textures:40 --image-size 64 --embed-dim 96 --heads 3 --depth 2
    --out-dim 1024 --batch-size 4 --local-crops 2 --set localSize=32 --max-steps 8 --log-every 4)
  profile_steps=4
  attention_variants=shared_rows,subgroup attention_shapes=50
  torch_flags=(--arch tiny --size 64 --local-size 32 --batch 4 --out-dim 1024 --seconds 1)
else
  # 1024^3 and 4096^3 square products; a DINO ViT-S/16 step's fc1 (32 global views x 197
  # tokens, 384 -> 1536: weight stored [out, in]) and its weight gradient (a stored [K, M])
  matmul_shapes=("1024 1024 1024" "4096 4096 4096" "6304 1536 384 --transpose-b"
    "1536 384 6304 --transpose-a")
  model_runs=("vit_small 16 224 16" "vit_small 16 224 64" "vit_base 16 224 64" "mixer_b16 16 224 64"
    "vit_small 16 224 16 --train --precision f16" "vit_small 16 224 16 --train")
  train_flags=(--data textures:720 --image-size 224 --batch-size 16 --local-crops 4
    --max-steps 36 --log-every 12)
  profile_steps=8
  attention_variants=rows,shared_rows,blocked,subgroup attention_shapes=50,197,257,785,1025
  torch_flags=()
fi

step() { # step NAME: whether to run it, and a header
  case "$skip" in *",$1,"*) echo "== $1: skipped"; return 1 ;; esac
  echo "== $1 ($(date -u +%H:%M:%S))"
}

if step info; then
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total \
    --format=csv,noheader | tee "$out/nvidia_smi.txt"
  "${cli[@]}" info --json >"$out/info.json" 2>"$out/info.err"
  cat "$out/info.json" "$out/info.err"
fi

if step matmul; then
  : >"$out/matmul.jsonl"
  for shape in "${matmul_shapes[@]}"; do
    read -r m n k flags <<<"$shape"
    # shellcheck disable=SC2086 # flags: none or one word
    "${cli[@]}" bench matmul --m "$m" --n "$n" --k "$k" $flags --json >>"$out/matmul.jsonl" ||
      echo "matmul $shape failed"
  done
  cat "$out/matmul.jsonl"
fi

if step attention; then
  # where "auto" should switch from shared_rows to the subgroup kernels on this GPU (the bound
  # in src/ops/attention/choice.ts is lavapipe's): every variant at short and ViT lengths
  ATTENTION_GFLOPS_VARIANTS="$attention_variants" ATTENTION_GFLOPS_SHAPES="$attention_shapes" \
    "$DENO" run -A bench/attention_gflops.ts 3 >"$out/attention.txt" 2>&1 ||
    echo "attention bench failed (see $out/attention.txt)"
  cat "$out/attention.txt"
fi

if step model; then
  : >"$out/model.jsonl"
  for run in "${model_runs[@]}"; do
    read -r arch patch size batch flags <<<"$run"
    # shellcheck disable=SC2086 # flags: words of their own
    "${cli[@]}" bench model --arch "$arch" --patch "$patch" --size "$size" --batch "$batch" \
      $flags --json >>"$out/model.jsonl" || echo "bench model $run failed"
  done
  cat "$out/model.jsonl"
fi

if step train; then
  rm -rf "$out/train_run"
  "${cli[@]}" train --preset dino "${train_flags[@]}" --out "$out/train_run" --json \
    >"$out/train.json" 2>"$out/train.log" || echo "train failed (see $out/train.log)"
  cp "$out/train_run/metrics.jsonl" "$out/train_metrics.jsonl" 2>/dev/null
  rm -rf "$out/train_run"
  cat "$out/train.json"
fi

if step profile; then
  rm -rf "$out/profile_run"
  "${cli[@]}" train --preset dino "${train_flags[@]}" --max-steps "$profile_steps" --profile \
    --out "$out/profile_run" >"$out/profile.log" 2>&1 || echo "profile run failed"
  rm -rf "$out/profile_run"
  grep -A 40 -i "kernel" "$out/profile.log" | head -50
fi

if step tune; then
  # the model step's training step again after `--tune` timed the kernels for its shapes, with a
  # cache of its own (the steps above ran untuned, the tests below stay untuned)
  read -r arch patch size batch flags <<<"${model_runs[-1]}"
  # shellcheck disable=SC2086 # flags: words of their own
  XDG_CACHE_HOME="$out/tune_cache" "${cli[@]}" bench model --arch "$arch" --patch "$patch" \
    --size "$size" --batch "$batch" $flags --tune --json >"$out/tuned.jsonl" 2>"$out/tune.log" ||
    echo "tuned bench model failed (see $out/tune.log)"
  tail -1 "$out/tune.log"
  cat "$out/tuned.jsonl"
fi

if step torch; then
  : >"$out/torch.jsonl"
  if "$PYTHON" -c "import torch" 2>/dev/null; then
    if "$PYTHON" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
      "$PYTHON" bench/peers/torch_vit.py --device cuda "${torch_flags[@]}" >>"$out/torch.jsonl"
      "$PYTHON" bench/peers/torch_vit.py --device cuda --amp "${torch_flags[@]}" >>"$out/torch.jsonl"
    fi
    "$PYTHON" bench/peers/torch_vit.py --device cpu --threads "$(nproc)" "${torch_flags[@]}" >>"$out/torch.jsonl"
    cat "$out/torch.jsonl"
  else
    echo "no torch in $PYTHON: peer skipped"
  fi
fi

if step tests; then
  timeout "${GPU_CHECK_TEST_SECONDS:-300}" "$DENO" test --allow-read --allow-write --allow-env \
    --allow-sys=statfs --allow-ffi --allow-net=127.0.0.1 --allow-run tests/ >"$out/tests.log" 2>&1
  echo "tests exit code $?" | tee -a "$out/tests.log"
  sed 's/\x1b\[[0-9;]*m//g' "$out/tests.log" | grep -E "^(ok|FAILED) \||=> |error:" | head -40
fi

echo "== table"
"$DENO" run --allow-read bench/gpu_check_table.ts "$out" | tee "$out/table.md"
