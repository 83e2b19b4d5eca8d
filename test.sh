#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (ctest). Usage: ./test.sh [ctest args]
set -euo pipefail
cd "$(dirname "$0")"
source tools/deps.sh
attnscope_install_deps
attnscope_build
cd build && ctest --output-on-failure --timeout 900 "$@"
