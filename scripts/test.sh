#!/usr/bin/env bash
# The test command: install, build (warnings are errors), run the whole suite
# on the OpenCL device lirf chooses (PoCL on a CPU-only machine), then run it a
# second time and require that no OpenCL program is built again (every test
# process checks its context's counter when LIRF_EXPECT_CACHED=1).
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
LIRF_EXPECT_CACHED=1 ctest --test-dir build --output-on-failure
