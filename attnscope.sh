#!/usr/bin/env bash
# Installs what is missing, builds, and opens AttnScope on the embedded demo.
set -euo pipefail
cd "$(dirname "$0")"
source tools/deps.sh
attnscope_install_deps
attnscope_build
if [ -x build/bin/attnscope ] && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; }; then
  exec build/bin/attnscope "$@"
fi
echo "attnscope: no GUI available here (no display, or the GUI is not built yet); running the CLI on the bundled fixture."
exec build/bin/attnscope-cli run --model tests/fixtures/vit/hf_vit --input-npy tests/fixtures/vit/hf_vit/input.npy --out build/demo-run "$@"
