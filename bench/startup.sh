#!/usr/bin/env bash
# Start-up of a training process, cold and warm: bench_train with one step,
# first with empty program caches (lirf's, $LIRF_CACHE_DIR, and PoCL's,
# $POCL_CACHE_DIR: every OpenCL program is compiled), then again with the
# caches those runs filled (every program is loaded). Prints a Markdown table;
# --append FILE appends it.
#   bench/startup.sh [--build DIR] [--append FILE]
# Columns: "to first step" is main() to the first step's first launch (device,
# context, network, parameters); "to its end" adds that step, in which every
# program is built or loaded on first use; "steady step" is a later step of
# the same process, so (to its end - steady step) is what start-up costs.
set -euo pipefail
build=build append=""
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2;;
    --append) append=$2; shift 2;;
    -h|--help) sed -n '2,12p' "$0"; exit 0;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
caches=$(mktemp -d)
trap 'rm -rf "$caches"' EXIT
out=$(mktemp)
field() { echo "$1" | $py -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }
{
  echo "### Start-up, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "command: \`bench/startup.sh\`; device: $("$build/lirf" devices | grep 'would use' | sed 's/lirf would use //')"
  echo
  echo "| model | caches | to first step s | to its end s | steady step s |"
  echo "|---|---|--:|--:|--:|"
  for cfg in "64 3,32,32 64" "16 1,28,28 128"; do
    set -- $cfg
    rm -rf "$caches"/*
    for state in cold warm; do
      j=$(LIRF_CACHE_DIR="$caches/lirf" POCL_CACHE_DIR="$caches/pocl" \
          "$build/bench/bench_train" --width "$1" --in "$2" --batch "$3" --warmup 1 --steps 1 --json)
      echo "| ResNet-18 w$1 $2 b$3 | $state | $(field "$j" setup_s) | $(field "$j" first_step_s) | $(echo "$j" | $py -c 'import json,sys; print(round(json.load(sys.stdin)["ms_per_step"]/1000, 3))') |"
    done
  done
} | tee "$out"
[ -n "$append" ] && { echo; cat "$out"; } >> "$append"
rm -f "$out"
