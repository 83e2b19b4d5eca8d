#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (ctest). Usage: ./test.sh [ctest args]
# With ATTNSCOPE_SANITIZE_STAGE=1 (CI, .ci/run) the suite then runs once more in build-asan, built with
# -DATTNSCOPE_SANITIZE="address;undefined" (docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")"
source tools/deps.sh
attnscope_install_deps
attnscope_build
(cd build && ctest --output-on-failure --timeout 900 "$@")
if [ "${ATTNSCOPE_SANITIZE_STAGE:-0}" = 1 ]; then
  echo "attnscope: test suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan)"
  attnscope_build_sanitized
  attnscope_sanitizer_env
  (cd build-asan && ctest --output-on-failure --timeout 900 "$@")
fi
