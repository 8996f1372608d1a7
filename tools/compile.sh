#!/usr/bin/env bash
# Builds the single `dinogpu` binary: bundles the CLI into dist/dinogpu.js (npm packages and WGSL
# kernels inside, the file tests/ship/bundle_test.ts runs from outside the repository), then
# `deno compile`s that one file. WebGPU is on by default in Deno 2; the binary reads no file of the
# repository, so no --include is needed.
# deno compile needs the `denort` runtime of the same Deno version: it downloads it unless
# DENORT_BIN names a local copy (e.g. DENORT_BIN=/path/to/denort deno task compile).
# Usage: deno task compile [--target x86_64-unknown-linux-gnu] [--output dist/dinogpu]
set -euo pipefail
cd "$(dirname "$0")/.."
deno_bin="${DENO:-$(command -v deno || echo node_modules/deno/deno)}"
output="dist/dinogpu"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --output) output="$2"; shift 2 ;;
    *) extra+=("$1"); shift ;;
  esac
done
"$deno_bin" run --allow-read --allow-write --allow-env --allow-run tools/bundle.ts \
  --only cli --cli dist/dinogpu.js
if [ -n "${DENORT_BIN:-}" ]; then echo "compile: using denort at $DENORT_BIN"; fi
"$deno_bin" compile --no-config --allow-read --allow-write --allow-env --allow-sys=statfs \
  ${extra[@]+"${extra[@]}"} --output "$output" dist/dinogpu.js
echo "compile: wrote $output"
