#!/usr/bin/env bash
# Builds lirf into build-gpu and copies the shared libraries it needs (beyond
# glibc) into gpu-libs/, for bench/gpu/run.sh on a machine without them.
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-gpu -j"$(nproc)" >/dev/null
rm -rf gpu-libs && mkdir gpu-libs
for b in build-gpu/lirf build-gpu/test_* build-gpu/bench/bench_*; do ldd "$b"; done |
  awk '$3 ~ /^\// {print $3}' | sort -u |
  grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' |
  while read -r so; do cp -L "$so" gpu-libs/; done
rm -f gpu-libs/libicudata.so.* gpu-libs/libicuuc.so.* gpu-libs/libxml2.so.* # big, and only libarchive's optional XAR support needs them
du -sh build-gpu gpu-libs
