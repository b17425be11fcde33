#!/usr/bin/env bash
# Runs each libFuzzer target of tests/fuzz/ for a bounded time (what CI does,
# and how the longer runs in docs/reliability.md were made):
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]     (default 30 s, every target)
# Needs the sanitizer build (bash scripts/sanitize.sh makes it). Each target
# starts from its seeds (tests/fuzz/corpus/<t>) and its regression inputs
# (tests/fuzz/regressions/<t>, each run once before fuzzing), with its
# dictionary, under ASan + UBSan, with a 10 s limit per input, 2 GiB of RSS
# and 256 MiB for any single allocation. New inputs go to a scratch folder
# ($B/fuzz-work/<t>), never into the repository. A crash, hang, leak, UB
# report or oversized allocation stops it: the input is written to
# $B/fuzz-artifacts/ and the script fails.
set -euo pipefail
cd "$(dirname "$0")/.."
B="${LIRF_ASAN_BUILD:-build-asan}"
secs="${1:-30}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors archive idx cifar image imagefolder keyfile sealed import_meta samplelist)
source scripts/sanitizer-env.sh
mkdir -p "$B/fuzz-artifacts"
total=0
for t in "${targets[@]}"; do
  bin="$B/fuzz_$t"
  [ -x "$bin" ] || { echo "fuzz.sh: $bin is missing: run bash scripts/sanitize.sh first" >&2; exit 1; }
  mkdir -p "$B/fuzz-work/$t"
  log="$B/fuzz-$t.log"
  t0=$(date +%s.%N)
  if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 \
       -dict="tests/fuzz/$t.dict" -print_final_stats=1 -artifact_prefix="$B/fuzz-artifacts/$t-" \
       "$B/fuzz-work/$t" "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t" >"$log" 2>&1; then
    tail -n 80 "$log"
    echo "fuzz_$t FAILED: the input is in $B/fuzz-artifacts/ (log: $log); fix the reader," \
         "then keep the input in tests/fuzz/regressions/$t/" >&2
    exit 1
  fi
  t1=$(date +%s.%N)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | grep -o 'cov: [0-9]*' | tail -n 1)
  printf 'fuzz_%-12s %10s executions in %6.1f s (%s), no crash, hang or leak\n' \
         "$t" "${execs:-?}" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "${cov:-cov: ?}"
  total=$((total + ${execs:-0}))
done
echo "fuzzing: ${#targets[@]} targets, $total executions, no failure"
