#!/usr/bin/env bash
# Fuzzing: builds the libFuzzer targets of tests/fuzz/ with clang, ASan and UBSan
# in build-fuzz/ (-O2 -g), and runs each for SECONDS_PER_TARGET (default 30) on a copy of
# its seed corpus (tests/fuzz/corpus/<target>/; the copy grows, the repo's does not).
#
#   scripts/fuzz.sh              30 s per target (what CI runs)
#   scripts/fuzz.sh 3600         an hour per target
#   scripts/fuzz.sh 600 png idx  only these targets
#
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_WORK_DIR (where the
# corpus copies and any crash inputs go; default a new temp folder), FUZZ_JOBS
# (build jobs).  Exits non-zero if a target crashes, leaks, times out (10 s for
# one input), runs out of memory (2 GB in all, 256 MB in one allocation: no
# input is over 16 KB, so a bigger request means a size in a file was believed
# before it was checked) or fails one of its property checks; the
# input that did it is kept in FUZZ_WORK_DIR/<target>/ and the command to replay
# it is printed.  Prints the executions of each target.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -lt 1 ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
fi
all_targets=(png image idx safetensors labels_csv cli_number)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")

scripts/install-deps.sh >/dev/null   # clang and libclang-rt-14-dev carry libFuzzer
build=${FUZZ_BUILD_DIR:-build-fuzz}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
echo "== fuzz: clang build with libFuzzer + ASan + UBSan in $build/"
# -O2 (several times the executions of -O0); under ASan clang can't vectorize
# the kernels' `omp simd` loops, and says so (-Wpass-failed), which is no error here.
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS=-Wno-pass-failed \
  -DCGRAD_WERROR=ON -DCGRAD_SANITIZE=ON \
  -DCGRAD_FUZZ=ON -DBUILD_TESTING=OFF -DCGRAD_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$jobs" --target "${targets[@]/#/fuzz_}"

work=${FUZZ_WORK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/cgrad-fuzz.XXXXXX")}
mkdir -p "$work"
# The longest input each target is given: enough for its formats' interesting
# cases, small enough that a run stays fast.
declare -A max_len=([png]=16384 [image]=16384 [idx]=4096 [safetensors]=16384 [labels_csv]=4096 [cli_number]=128)

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:allocator_may_return_null=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp
export OMP_NUM_THREADS=1
failed=()
for t in "${targets[@]}"; do
  dir=$work/$t
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp tests/fuzz/corpus/"$t"/* "$dir/corpus/"
  dict=()
  [[ -f tests/fuzz/$t.dict ]] && dict=(-dict="tests/fuzz/$t.dict")
  echo "== fuzz_$t for ${seconds}s (corpus copy in $dir/corpus)"
  rc=0
  "$build"/fuzz/fuzz_"$t" "$dir/corpus" "${dict[@]}" -max_total_time="$seconds" -max_len="${max_len[$t]}" \
    -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" >"$dir/log" 2>&1 || rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" | grep -o '[0-9]*$' || true)
  cov=$(grep -oE '#[0-9]+[[:space:]]+DONE[[:space:]]+cov: [0-9]+ ft: [0-9]+' "$dir/log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || true)
  if [[ $rc -ne 0 ]]; then
    tail -n 60 "$dir/log"
    echo "FAIL fuzz_$t (exit $rc) after ${runs:-?} executions; inputs in $dir/artifacts/:"
    ls "$dir/artifacts/"
    echo "  replay: $build/fuzz/fuzz_$t $dir/artifacts/<file>"
    failed+=("$t")
  else
    echo "ok   fuzz_$t: ${runs:-?} executions in ${seconds}s, ${cov:-coverage ?}, corpus $(ls "$dir/corpus" | wc -l) inputs"
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: FAILED: ${failed[*]} (logs and inputs in $work)"
  exit 1
fi
[[ -n "${FUZZ_WORK_DIR:-}" ]] || rm -rf "$work"
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s each without a failure"
