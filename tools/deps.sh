#!/usr/bin/env bash
# Installs the Debian packages AttnScope needs to build and test (sourced by test.sh / attnscope.sh).
# As root it runs apt-get; otherwise it prints the exact command to run.
ATTNSCOPE_PACKAGES=(
  build-essential cmake pkg-config
  xvfb xauth   # the GUI smoke test on a real X server (tests/ui/xvfb_smoke.cpp)
  qt6-base-dev qt6-svg-dev
  libeigen3-dev libopencv-dev nlohmann-json3-dev libopenblas-dev libqcustomplot-dev zlib1g-dev
  dataset-fashion-mnist
)

attnscope_install_deps() {
  local missing=()
  for p in "${ATTNSCOPE_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "attnscope: installing missing packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
      { apt-get update -qq && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } ||
      { echo "attnscope: apt-get failed for: ${missing[*]}" >&2; return 1; }
  else
    echo "attnscope: not root; please run:  sudo apt-get install ${missing[*]}" >&2
    return 1
  fi
}

attnscope_build() {
  local root; root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null &&
    cmake --build "$root/build" -j"$(nproc)"
}

# The same tree built with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan (-O1, line
# tables for readable reports; no -march=native). CI runs the whole test suite there once more.
attnscope_build_sanitized() {
  local root; root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  cmake -S "$root" -B "$root/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" "-DATTNSCOPE_SANITIZE=address;undefined" "$@" >/dev/null &&
    cmake --build "$root/build-asan" -j"$(nproc)"
}

# Sanitizer settings for running build-asan's tests: stop at the first report, leaks included
# (the suite, GUI tests too, runs leak-free: no suppressions are needed).
attnscope_sanitizer_env() {
  export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
}
