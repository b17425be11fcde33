#!/usr/bin/env bash
# Every __kernel in cl_kernels/*.cl must have been launched by some test of
# this run (the tests append what they launch to $LIRF_KERNEL_TRACE). The
# kernels between "#ifdef LIRF_POCL_CPU" and its "#endif" are built for PoCL
# CPU devices only (runtime/program.c): a run on another device
# ($LIRF_DEVICE set to one that is not PoCL's, e.g. llvmpipe) leaves them out.
set -u
src=$1 trace=$2
[ -s "$trace" ] || { echo "no kernel trace at $trace"; exit 1; }
pocl_only=1
case "${LIRF_DEVICE:-}" in
  ""|*pthread*|*pocl*|*PoCL*|*Portable*) pocl_only=1;;
  *) pocl_only=0; echo "device $LIRF_DEVICE: the PoCL-only kernels are not expected";;
esac
missing=0 total=0
for f in "$src"/cl_kernels/*.cl; do
  prog=$(basename "$f" .cl)
  for k in $(awk -v want="$pocl_only" '
      /^#ifdef LIRF_POCL_CPU/ { inpocl = 1 }
      /^#endif \/\* LIRF_POCL_CPU/ { inpocl = 0 }
      { while (match($0, /__kernel[ \t]+void[ \t]+[A-Za-z_0-9]+/)) {
          if (!inpocl || want == 1) { split(substr($0, RSTART, RLENGTH), w, /[ \t]+/); print w[3] }
          $0 = substr($0, RSTART + RLENGTH) } }' "$f"); do
    total=$((total + 1))
    if ! grep -qx "$prog $k" "$trace"; then
      echo "kernel $prog/$k is launched by no test"
      missing=$((missing + 1))
    fi
  done
done
echo "$((total - missing)) of $total kernels exercised by the tests"
[ "$missing" -eq 0 ]
