#!/usr/bin/env bash
# The data path side by side on the same files: `dinogpu bench data` (worker pool: decode,
# RandomResizedCrop on the original, Pillow-bicubic resize) and torchvision's DataLoader (PIL,
# num_workers=2), both cutting 2 x 224 px + N x 96 px crops per image, one warm-up batch, then
# --images images timed. Prints one JSON line per side, then the ratio.
#
# Usage: bash bench/data_vs_torchvision.sh DIR [LOCAL_CROPS] [IMAGES] [WORKERS]
#   (DIR: a folder of JPEG/PNG, e.g. from tools/make_image_folder.py; WORKERS: dinogpu's, default
#   the cores; torchvision always runs num_workers=2)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:?usage: bench/data_vs_torchvision.sh DIR [LOCAL_CROPS] [IMAGES] [WORKERS]}"
local_crops="${2:-2}"
images="${3:-512}"
deno="${DENO:-$here/node_modules/deno/deno}"
workers=()
if [ -n "${4:-}" ]; then workers=(--workers "$4"); fi
ours="$("$deno" run -A "$here/cli/main.ts" bench data --data "folder:$dir" \
  --local-crops "$local_crops" --images "$images" "${workers[@]}" --json)"
peer="$(/usr/bin/python3 "$here/bench/peers/torchvision_data.py" "$dir" \
  --local-crops "$local_crops" --images "$images" --workers 2)"
echo "dinogpu     $ours"
echo "torchvision $peer"
python3 -c "import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); \
print(f\"dinogpu / torchvision images/s: {a['images_per_second']/b['images_per_second']:.2f} \
({a['images_per_second']:.1f} vs {b['images_per_second']:.1f}); peak RSS \
{a['peak_rss_bytes']/2**20:.0f} vs {b['peak_rss_bytes']/2**20:.0f} MiB\")" "$ours" "$peer"
