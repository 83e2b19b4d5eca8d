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
# The summary's exec/s is executions / wall seconds (so it includes time lost to other load);
# cov and ft are libFuzzer's last status line.
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
  total=0 segment=0 result=ok wall=0
  : >"$work/$t.log"
  # One libFuzzer run per segment. A timeout that does not reproduce when the input is replayed alone
  # (the machine is shared and the fuzzer runs under nice: a starved process can pass 10 s of wall time
  # on a millisecond input) is logged as spurious and fuzzing resumes for the remaining executions.
  while [ "$total" -lt "$runs" ]; do
    segment=$((segment + 1))
    log="$work/$t.segment$segment.log"
    start=$(date +%s)
    nice -n "${FUZZ_NICE:-15}" "$build/bin/fuzz_$t" -runs=$((runs - total)) -max_len="$(max_len "$t")" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts/$t/" ${FUZZ_EXTRA:-} \
      "$corpus" "$work/seeds/$t" >"$log" 2>&1
    rc=$?
    wall=$((wall + $(date +%s) - start))
    cat "$log" >>"$work/$t.log"
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    total=$((total + ${execs:-0}))
    [ $rc -eq 0 ] && break
    artifact=$(ls -t "$work/artifacts/$t" | head -n 1)
    if [ $rc -eq 70 ] && [[ "$artifact" == timeout-* ]] &&
      "$build/bin/fuzz_$t" -timeout=10 -runs=3 "$work/artifacts/$t/$artifact" >"$log.replay" 2>&1; then
      echo "run.sh: $artifact: spurious timeout (replayed alone in time); resuming" | tee -a "$work/$t.log"
      mv "$work/artifacts/$t/$artifact" "$work/artifacts/$t/spurious-$artifact"
      [ "${execs:-0}" -eq 0 ] && { result="stuck"; status=1; break; }
      continue
    fi
    result="FINDING (rc $rc): $artifact — see $log"
    status=1
    break
  done
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*')
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*')
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' <<<"$last" | cut -d' ' -f2)
  speed=$((total / (wall > 0 ? wall : 1)))
  printf '%-12s %10s %8s %8s %8s %10s %s\n' "$t" "$total" "$speed" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
    "$result (${segment} segment(s), ${wall} s)"
done
exit $status
