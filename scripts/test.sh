#!/usr/bin/env bash
# The test command: install, build (warnings are errors), run the whole suite
# on the OpenCL device lirf chooses (PoCL on a CPU-only machine), then run it a
# second time and require that no OpenCL program is built again (every test
# process checks its context's counter when LIRF_EXPECT_CACHED=1). Then the
# whole suite once more on a second, independent OpenCL implementation, Mesa's
# rusticl on llvmpipe (docs/portability.md); LIRF_SKIP_RUSTICL=1 skips it on a
# developer's machine, never in CI. Then the
# reliability stage (docs/reliability.md): the whole suite again under ASan +
# UBSan (a clang build in build-asan), and every fuzz target for a bounded time.
# LIRF_SKIP_RELIABILITY=1 skips that stage on a developer's machine, never in
# CI (CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps-debian.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIRF_WERROR=ON
cmake --build build -j"$(nproc)"
export LIRF_CACHE_DIR="${LIRF_CACHE_DIR:-$PWD/build/program-cache}"
./build/lirf devices
echo "== test suite, first run (programs built and cached) =="
ctest --test-dir build --output-on-failure
echo "== test suite, second run (must build no OpenCL program) =="
LIRF_EXPECT_CACHED=1 ctest --test-dir build --output-on-failure | tee build/ctest-pocl.log
if [ "${LIRF_SKIP_RUSTICL:-0}" != 1 ] || [ "${CI:-}" = true ]; then
  echo "== test suite on Mesa rusticl (llvmpipe), the second OpenCL implementation =="
  RUSTICL_ENABLE=llvmpipe ./build/lirf devices
  # Mesa's own shader cache in the build folder: a fresh machine's state.
  # As many tests at a time as there are cores: one at a time, this stage
  # kept about one core of two busy (LLVM compiling kernels, one thread).
  RUSTICL_ENABLE=llvmpipe LIRF_DEVICE=llvmpipe MESA_SHADER_CACHE_DIR="$PWD/build/mesa-cache" \
    LIRF_CACHE_DIR="$PWD/build/program-cache-rusticl" \
    ctest --test-dir build -j"$(nproc)" --output-on-failure | tee build/ctest-rusticl.log
  echo "== tests passed per OpenCL implementation =="
  echo "PoCL:    $(grep -E 'tests passed' build/ctest-pocl.log)"
  echo "rusticl: $(grep -E 'tests passed' build/ctest-rusticl.log)"
fi
if [ "${LIRF_SKIP_RELIABILITY:-0}" = 1 ] && [ "${CI:-}" != true ]; then
  echo "== skipped: the sanitizer suite and the fuzz targets (LIRF_SKIP_RELIABILITY=1) =="
  exit 0
fi
echo "== test suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan) =="
bash scripts/sanitize.sh
echo "== fuzz targets, ${LIRF_FUZZ_SECONDS:-30} s each =="
bash scripts/fuzz.sh "${LIRF_FUZZ_SECONDS:-30}"
