#!/usr/bin/env bash
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer
# (docs/reliability.md): a second build in build-asan with clang and
# -DLIRF_FUZZ=ON (which implies -DLIRF_SANITIZE=ON: every target, tests and
# the lirf command included, is instrumented; it also builds the libFuzzer
# targets that scripts/fuzz.sh runs), then every ctest entry.
#   bash scripts/sanitize.sh            (scripts/test.sh runs it after the plain runs)
set -euo pipefail
cd "$(dirname "$0")/.."
B="${LIRF_ASAN_BUILD:-build-asan}"
cmake -S . -B "$B" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIRF_WERROR=ON \
      -DLIRF_BUILD_BENCH=OFF -DLIRF_FUZZ=ON
cmake --build "$B" -j"$(nproc)"
source scripts/sanitizer-env.sh
# The OpenCL programs are the same as in the plain build: share its cache.
export LIRF_CACHE_DIR="${LIRF_CACHE_DIR:-$PWD/build/program-cache}"
ctest --test-dir "$B" --output-on-failure
# The command itself, sanitized: device listing, its self-test, and a small
# train -> deposit -> withdraw run (Fashion-MNIST, 256 / 128 samples, one
# epoch each; about 30 s) through the CLI's argument parsing, checkpoints and
# a gzip deposit archive.
#
# PoCL compiles each kernel again for every local size it is launched with, in
# the process, with LLVM, whose allocations LeakSanitizer reports as leaks
# (with stacks cut short at operator new, so no suppression can name them).
# The suite above finds every variant it needs compiled already, in PoCL's
# kernel cache, by the plain runs before it; the commands below launch some
# shapes no test does, so the plain build's lirf runs the same commands first.
work="$(mktemp -d "${TMPDIR:-/tmp}/lirf-asan-cli.XXXXXX")"
trap 'rm -rf "$work"' EXIT
case "$B" in /*) L="$B/lirf" ;; *) L="$PWD/$B/lirf" ;; esac
cli_run() { # $1: the lirf binary
  "$1" devices
  "$1" selftest
  (cd "$work" && rm -f t0.safetensors* target.safetensors deposit.lirf recover.safetensors &&
   "$1" train --limit 256 --epochs 1 --batch 64 --out t0.safetensors --quiet &&
   "$1" deposit --model t0.safetensors --deposit-classes 0,1 --limit 128 --epochs 1 --batch 64 \
        --target target.safetensors --archive deposit.lirf --compress gzip --quiet &&
   "$1" withdraw --target target.safetensors --archive deposit.lirf --out recover.safetensors)
}
if [ -x build/lirf ]; then
  (unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS; cli_run "$PWD/build/lirf") >/dev/null
fi
cli_run "$L"
echo "sanitizer stage: the suite and the lirf command ran clean under ASan + UBSan"
