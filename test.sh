#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (ctest). Usage: ./test.sh [ctest args]
# With ATTNSCOPE_SANITIZE_STAGE=1 (CI, .ci/run) the suite then runs once more in build-asan, built with
# -DATTNSCOPE_SANITIZE="address;undefined" (docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")"
source tools/deps.sh
attnscope_install_deps
attnscope_build
# Two tests at a time (the machine's cores; each test is mostly single-threaded or small): about half the
# suite's wall time. ATTNSCOPE_TEST_JOBS overrides (1: one after another).
jobs=${ATTNSCOPE_TEST_JOBS:-$(nproc)}
(cd build && ctest --output-on-failure --timeout 900 -j"$jobs" "$@")
# The default GEMM backend is oneDNN when the build has it; the fidelity tests run once more on OpenBLAS
# (ATTNSCOPE_BACKEND forces it; docs/performance.md) so that every selectable backend is checked. The same
# rerun loads every weight as a copy (ATTNSCOPE_MAP_WEIGHTS=0) instead of serving float32 safetensors
# tensors from the file's mapping, so both weight paths are checked too.
fidelity='^test_(vit|detr|real_deit|kernels|kernels_conv|analysis_reference|cli|explain_gradients|explain_detr|interventions|importance|clip_siglip|yolos)$'
if grep -q '^ATTNSCOPE_BACKENDS_ONEDNN:INTERNAL=ON' build/CMakeCache.txt 2>/dev/null && [ $# -eq 0 ]; then
  echo "attnscope: fidelity tests with ATTNSCOPE_BACKEND=openblas ATTNSCOPE_MAP_WEIGHTS=0"
  (cd build && ATTNSCOPE_BACKEND=openblas ATTNSCOPE_MAP_WEIGHTS=0 ctest --output-on-failure --timeout 900 -j"$jobs" -R "$fidelity")
elif [ $# -eq 0 ]; then
  echo "attnscope: fidelity tests with ATTNSCOPE_MAP_WEIGHTS=0"
  (cd build && ATTNSCOPE_MAP_WEIGHTS=0 ctest --output-on-failure --timeout 900 -j"$jobs" -R "$fidelity")
fi
if [ "${ATTNSCOPE_SANITIZE_STAGE:-0}" = 1 ]; then
  echo "attnscope: test suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan)"
  attnscope_build_sanitized
  attnscope_sanitizer_env
  (cd build-asan && ctest --output-on-failure --timeout 900 -j"$jobs" "$@")
fi
