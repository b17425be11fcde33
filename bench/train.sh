#!/usr/bin/env bash
# Training throughput of lirf beside PyTorch on the same machine, in one run:
# ResNet-18 width 64 on 3x32x32 at batch 64, and width 16 on 1x28x28 at batch
# 128 (issue targets). Prints a Markdown table; --append FILE appends it.
# The peer is PyTorch 2.x from PyPI, what users install: by default a venv
# made here on first use (python3 -m venv, then pip install torch numpy:
# about 5 GB; it runs on CPU) at $LIRF_PEER_VENV (default
# ~/.cache/lirf/peer-venv);
# --python PY uses another interpreter (it must import torch 2.x).
#   bench/train.sh [--build DIR] [--threads N] [--steps N] [--device cuda]
#                  [--python PY] [--append FILE]
set -euo pipefail
build=build threads=$(nproc) steps=5 device=cpu append="" py=""
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2;;
    --threads) threads=$2; shift 2;;
    --steps) steps=$2; shift 2;;
    --device) device=$2; shift 2;;
    --python) py=$2; shift 2;;
    --append) append=$2; shift 2;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$build/lirf" ] && [ -x "$build/bench/bench_train" ] ||
  { echo "train.sh: no $build/lirf or $build/bench/bench_train: build first (README)" >&2; exit 2; }
if [ -z "$py" ]; then
  venv=${LIRF_PEER_VENV:-$HOME/.cache/lirf/peer-venv}
  if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
    echo "train.sh: making the PyTorch peer's venv in $venv (pip install torch, once)" >&2
    python3 -m venv "$venv" && "$venv/bin/pip" install -q torch numpy >&2 ||
      { echo "train.sh: could not install torch into $venv" >&2; exit 2; }
  fi
  py=$venv/bin/python
fi
"$py" -c 'import sys, torch; sys.exit(0 if int(torch.__version__.split(".")[0]) >= 2 else 1)' ||
  { echo "train.sh: $py has no PyTorch 2.x (the peer is PyTorch 2.x from PyPI)" >&2; exit 2; }
out=$(mktemp)
{
  echo "### Training throughput, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "command: \`bench/train.sh --threads $threads --steps $steps --device $device\`; lirf device: $("$build/lirf" devices | grep 'would use' | sed 's/lirf would use //')"
  echo
  echo "| model | input | batch | lirf img/s | PyTorch img/s | ratio | lirf peak device MB |"
  echo "|---|---|--:|--:|--:|--:|--:|"
  for cfg in "64 3,32,32 64" "16 1,28,28 128"; do
    set -- $cfg
    l=$(POCL_MAX_PTHREAD_COUNT=$threads "$build/bench/bench_train" --width "$1" --in "$2" --batch "$3" --steps "$steps" --json)
    p=$("$py" "$here/train_peer.py" --width "$1" --in "$2" --batch "$3" --steps "$steps" --threads "$threads" --device "$device")
    li=$(echo "$l" | "$py" -c 'import json,sys; print(round(json.load(sys.stdin)["images_per_s"], 1))')
    lm=$(echo "$l" | "$py" -c 'import json,sys; print(round(json.load(sys.stdin)["peak_device_bytes"]/1e6,1))')
    pi=$(echo "$p" | "$py" -c 'import json,sys; print(round(json.load(sys.stdin)["images_per_s"], 1))')
    pv=$(echo "$p" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["peer"])')
    r=$("$py" -c "print(round($li/$pi, 3))")
    echo "| ResNet-18 w$1 | $2 | $3 | $li | $pi | $r | $lm |"
  done
  echo
  echo "peer: $pv, $threads threads, device $device; $steps timed steps after 2 warm-up steps each."
} | tee "$out"
[ -n "$append" ] && { echo; cat "$out"; } >> "$append"
rm -f "$out"
