#!/usr/bin/env bash
# The test command: installs missing dependencies, then builds and runs the
# whole suite twice —
#   1. build/       gcc, optimised, warnings as errors
#   2. build-asan/  clang, AddressSanitizer + UBSan + LeakSanitizer, warnings as errors
# Exits non-zero if either build or any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

echo "== gcc build, warnings as errors"
CC=gcc cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCGRAD_WERROR=ON -DCGRAD_NATIVE=OFF >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 600

echo "== clang build with AddressSanitizer + UBSan + LeakSanitizer"
CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCGRAD_WERROR=ON -DCGRAD_SANITIZE=ON \
  -DCGRAD_NATIVE=OFF >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" --timeout 1200
