#!/usr/bin/env bash
# lirf on a GPU machine with no network: registers the NVIDIA OpenCL driver with
# the ICD loader, runs the whole test suite on the GPU, the training benchmark
# (beside PyTorch CUDA when this machine's python3 has it), and the demo.
#
#   bench/gpu/run.sh [RUN_DIR]
#
# RUN_DIR (default gpu-run): made by bench/gpu/prepare.sh on a Debian 12
# machine: bin/ (lirf, tests, benchmarks) and lib/ (the shared libraries they
# need that a bare machine may lack). On AMD or Intel GPU machines, set
# OCL_ICD_VENDORS to their driver's vendors folder (or install their ICD) and
# LIRF_DEVICE to part of the device name; the rest is the same.
set -u
cd "$(dirname "$0")/../.."
R=${1:-gpu-run}
B=$R/bin
export LD_LIBRARY_PATH="$PWD/$R/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LIRF_SOURCE_DIR=$PWD HOME=${HOME:-/tmp} CK_FORK=no
export LIRF_CACHE_DIR=${LIRF_CACHE_DIR:-/tmp/lirf-cache}
budget=${GPU_BUDGET_S:-420}
t_start=$(date +%s)
left() { echo $((budget - ($(date +%s) - t_start))); }

echo "== machine"
date -u
nvidia-smi -L 2>/dev/null || echo "(no nvidia-smi)"
if [ -z "${OCL_ICD_VENDORS:-}" ]; then
  lib=$(ldconfig -p 2>/dev/null | grep -oE '/[^ ]*libnvidia-opencl\.so\.1' | head -1)
  [ -n "$lib" ] || lib=$(find / -xdev -name 'libnvidia-opencl.so.1' 2>/dev/null | head -1)
  if [ -n "$lib" ]; then
    mkdir -p /tmp/lirf-icd && echo "$lib" > /tmp/lirf-icd/nvidia.icd
    export OCL_ICD_VENDORS=/tmp/lirf-icd
    export LIRF_DEVICE=${LIRF_DEVICE:-NVIDIA}
    echo "NVIDIA OpenCL driver: $lib"
  else
    echo "no NVIDIA OpenCL driver found; using the default device"
  fi
fi
"$B/lirf" devices || exit 1
"$B/lirf" selftest

echo "== test suite on the GPU"
pass=0 fail=0 failed=""
for t in "$B"/test_*; do
  [ -x "$t" ] || continue
  s=$(date +%s%N)
  if LIRF_BIN="$B/lirf" timeout 150 "$t" > "/tmp/$(basename "$t").log" 2>&1; then
    pass=$((pass + 1)); r=ok
  else
    fail=$((fail + 1)); r=FAILED; failed="$failed $(basename "$t")"
    tail -5 "/tmp/$(basename "$t").log"
  fi
  printf '%-22s %-6s %6dms  %s\n' "$(basename "$t")" "$r" "$(( ($(date +%s%N) - s) / 1000000 ))" \
    "$(grep -hE 'Checks:' "/tmp/$(basename "$t").log" | tail -1)"
done
echo "$pass passed, $fail failed${failed:+ ($failed )}"

echo "== training throughput (fp32)"
py=""
for p in /usr/bin/python3 python3; do
  if command -v "$p" >/dev/null && "$p" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then py=$p; break; fi
done
for cfg in "64 3,32,32 64" "16 1,28,28 128"; do
  set -- $cfg
  "$B/bench_train" --width "$1" --in "$2" --batch "$3" --steps 20 --warmup 3
  if [ -n "$py" ]; then
    "$py" bench/train_peer.py --width "$1" --in "$2" --batch "$3" --steps 20 --device cuda
  fi
done
[ -n "$py" ] || echo "(no PyTorch with CUDA on this machine: no peer figures)"

echo "== demo (Fashion-MNIST defaults), $(left) s left"
if [ "$(left)" -gt 120 ]; then
  timeout $(( $(left) - 30 )) "$B/lirf" demo --out /tmp/lirf-demo-gpu ${DEMO_ARGS:-} || echo "(demo stopped: time budget)"
fi
echo "== done in $(( $(date +%s) - t_start )) s"
