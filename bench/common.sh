# Sourced by the bench/ shell scripts: runs from the checkout's root, makes OUT_DIR (the script's
# first argument, else the default given as $1 here) as `out`, gives Mesa a runtime folder, and
# finds DENO (node_modules/deno/deno, else deno on PATH) unless it is set.
#   source "$(dirname "$0")/common.sh" runs/NAME "$@"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${2:-$1}"
mkdir -p "$out"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/dinogpu-xdg}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
if [ -z "${DENO:-}" ]; then
  if [ -x node_modules/deno/deno ]; then DENO=node_modules/deno/deno; else DENO=deno; fi
fi
