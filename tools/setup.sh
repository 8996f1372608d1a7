#!/usr/bin/env bash
# Sets up a fresh machine: Mesa's software Vulkan driver when there is no GPU driver (apt, as root),
# then Deno and the npm dependencies (npm ci), or, where npm is absent and deno is on PATH, the npm
# dependencies through `deno install`. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  for package in mesa-vulkan-drivers libvulkan1; do
    dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
  done
  if [ "${#need[@]}" -gt 0 ]; then
    echo "setup: apt-get install ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

if command -v npm >/dev/null; then
  if [ ! -x node_modules/deno/deno ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "setup: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  fi
  node_modules/deno/deno --version | head -1
elif command -v deno >/dev/null; then
  # Deno alone (a GPU server without Node.js): it installs the npm packages itself
  echo "setup: no npm on PATH: deno install"
  deno install
  deno --version | head -1
else
  echo "setup: needs npm (Node.js) or deno on PATH (https://deno.com)" >&2
  exit 1
fi
