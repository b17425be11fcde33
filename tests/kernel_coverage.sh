#!/usr/bin/env bash
# Every __kernel in cl_kernels/*.cl must have been launched by some test of
# this run (the tests append what they launch to $LIRF_KERNEL_TRACE).
set -u
src=$1 trace=$2
[ -s "$trace" ] || { echo "no kernel trace at $trace"; exit 1; }
missing=0 total=0
for f in "$src"/cl_kernels/*.cl; do
  prog=$(basename "$f" .cl)
  for k in $(grep -oE '__kernel[[:space:]]+void[[:space:]]+[A-Za-z_0-9]+' "$f" | awk '{print $3}'); do
    total=$((total + 1))
    if ! grep -qx "$prog $k" "$trace"; then
      echo "kernel $prog/$k is launched by no test"
      missing=$((missing + 1))
    fi
  done
done
echo "$((total - missing)) of $total kernels exercised by the tests"
[ "$missing" -eq 0 ]
