#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each one after the other with a seed
# corpus derived from tests/fixtures.
#
#   tools/fuzz/run.sh [RUNS] [TARGET...]      RUNS defaults to 1000000; targets: safetensors pth pickle config image
#
# Environment: FUZZ_BUILD (build folder, default build-fuzz), JOBS (build parallelism, default 2),
# FUZZ_NICE (default 15), FUZZ_EXTRA (more libFuzzer flags). Everything it makes lives under
# $FUZZ_BUILD: fuzz-work/seeds (remade each run), fuzz-work/corpus/<target> (kept and grown between runs),
# fuzz-work/artifacts/<target>/ (crash-*, leak-*, oom-*, timeout-* inputs), fuzz-work/<target>.log.
# A finding makes libFuzzer stop that target with a non-zero status; the script goes on with the next
# and exits non-zero at the end. Reproduce one input: build-fuzz/bin/fuzz_<target> ARTIFACT
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${FUZZ_BUILD:-$root/build-fuzz}"
runs="${1:-1000000}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors pth pickle config image)

command -v clang++ >/dev/null || { echo "run.sh: clang++ not found (apt-get install clang)" >&2; exit 1; }
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DATTNSCOPE_FUZZ=ON \
  "${launcher[@]}" >/dev/null || exit 1
cmake --build "$build" -j"${JOBS:-2}" --target "${targets[@]/#/fuzz_}" || exit 1

work="$build/fuzz-work"
rm -rf "$work/seeds"
py=/usr/bin/python3
[ -x "$py" ] || py=python3
"$py" "$root/tools/fuzz/make_seeds.py" "$root/tests/fixtures" "$work/seeds" || exit 1

max_len() {
  case "$1" in
    safetensors|pth) echo 16384 ;;
    pickle) echo 8192 ;;
    config) echo 4096 ;;
    image) echo 65536 ;;
  esac
}

export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
status=0
printf '%-12s %10s %8s %8s %8s %10s %s\n' target executions exec/s cov ft corpus result
for t in "${targets[@]}"; do
  corpus="$work/corpus/$t"
  mkdir -p "$corpus" "$work/artifacts/$t"
  log="$work/$t.log"
  nice -n "${FUZZ_NICE:-15}" "$build/bin/fuzz_$t" -runs="$runs" -max_len="$(max_len "$t")" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts/$t/" ${FUZZ_EXTRA:-} \
    "$corpus" "$work/seeds/$t" >"$log" 2>&1
  rc=$?
  [ $rc -ne 0 ] && status=1
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*')
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*')
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' <<<"$last" | cut -d' ' -f2)
  result=ok
  [ $rc -ne 0 ] && result="FINDING (rc $rc): $(ls -t "$work/artifacts/$t" | head -n 1) — see $log"
  printf '%-12s %10s %8s %8s %8s %10s %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
done
exit $status
