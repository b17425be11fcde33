#!/usr/bin/env bash
# Builds lirf (Release) and gathers what bench/gpu/run.sh needs on a machine
# without lirf's packages: gpu-run/bin (lirf, the test programs, the
# benchmarks, stripped) and gpu-run/lib (the shared libraries they load beyond
# glibc). Carry gpu-run/ to the GPU machine with the source tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-gpu -j"$(nproc)" >/dev/null
rm -rf gpu-run && mkdir -p gpu-run/bin gpu-run/lib
cp build-gpu/lirf build-gpu/test_* build-gpu/bench/bench_train build-gpu/bench/bench_conv gpu-run/bin/
strip gpu-run/bin/*
for b in gpu-run/bin/*; do ldd "$b"; done | awk '$3 ~ /^\// {print $3}' | sort -u |
  grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' |
  while read -r so; do cp -L "$so" gpu-run/lib/; done
du -sh gpu-run/bin gpu-run/lib
