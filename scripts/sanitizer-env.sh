# Sourced by scripts/sanitize.sh and scripts/fuzz.sh (and by hand, to rerun one
# test or one fuzz input the way CI does): how the sanitizers report.
# - ASan: stop at the first error; leaks are reported (LeakSanitizer) except
#   those allocated inside a system OpenCL driver (tests/lsan.supp).
# - UBSan: the build has -fno-sanitize-recover=undefined, so any report aborts;
#   print the stack with it.
_lirf_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:allocator_may_return_null=0"
export LSAN_OPTIONS="suppressions=$_lirf_root/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
unset _lirf_root
