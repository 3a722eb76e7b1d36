#!/usr/bin/env bash
# bench/loaded.sh [BUILD_DIR] — the command line's thread use on a loaded machine.
#
# Trains each model of MODELS on a cut of MNIST (tests/cli/lib/mnist_cut.sh) with
# `cgrad train --threads 1`, and with `--threads 2` at each GOMP_SPINCOUNT of
# SPINS, first beside one busy loop (the load: a shell spinning on a core), then
# quiet, REPEAT times each, and prints the least and most wall seconds per row.
# The figures in src/cli/cli_omp_env.c (cgrad's own GOMP_SPINCOUNT) come from it.
#
#   MODELS  model:train:test:epochs ...   default "cnn:6400:1000:1 resnet18:1280:400:2"
#   SPINS   GOMP_SPINCOUNT values          default "300000 10000 3000 1000 0"
#   REPEAT  runs per row                   default 3
# Data through CGRAD_MIRROR, or ../shared/data beside the clone, as bench/run.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
cgrad=$build/cgrad
[ -x "$cgrad" ] || { echo "loaded.sh: no $cgrad (build first)" >&2; exit 1; }
MIRROR=${CGRAD_MIRROR:-$here/../../shared/data}
fail() { echo "loaded.sh: $*" >&2; exit 1; }
# shellcheck source=../tests/cli/lib/mnist_cut.sh
. "$here/../tests/cli/lib/mnist_cut.sh"
tmp=$(mktemp -d)
spinner=
trap '[ -n "$spinner" ] && kill "$spinner" 2>/dev/null; rm -rf "$tmp"' EXIT
read -r -a models <<< "${MODELS:-cnn:6400:1000:1 resnet18:1280:400:2}"
read -r -a spins <<< "${SPINS:-300000 10000 3000 1000 0}"
repeat=${REPEAT:-3}

seconds() { # data model epochs threads spin -> wall seconds of one run
    local t0 t1
    t0=$(date +%s.%N)
    GOMP_SPINCOUNT=$5 "$cgrad" train --data "$1" --model "$2" --epochs "$3" --threads "$4" --quiet >/dev/null 2>&1 \
        || fail "cgrad train --data $1 --model $2 failed"
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc
}
row() { # label data model epochs threads spin
    local label=$1 all=()
    shift
    for ((r = 0; r < repeat; r++)); do all+=("$(seconds "$@")"); done
    printf '%-10s %-9s %-22s %s\n' "$2" "$condition" "$label" \
        "$(printf '%s\n' "${all[@]}" | sort -n | awk 'NR==1{lo=$1} {hi=$1} END{printf "%.2f-%.2f s", lo, hi}')"
}

echo "== loaded.sh ($(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores)"
for condition in loaded quiet; do
    if [ "$condition" = loaded ]; then sh -c 'while :; do :; done' & spinner=$!; fi
    for m in "${models[@]}"; do
        IFS=: read -r model ntrain ntest epochs <<< "$m"
        data=$tmp/mnist-$ntrain-$ntest
        [ -d "$data" ] || mnist_cut "$data" "$ntrain" "$ntest"
        [ "$condition" = loaded ] && row "--threads 1" "$data" "$model" "$epochs" 1 3000
        for s in "${spins[@]}"; do row "--threads 2, spin $s" "$data" "$model" "$epochs" 2 "$s"; done
    done
    if [ -n "$spinner" ]; then kill "$spinner"; wait "$spinner" 2>/dev/null || true; spinner=; fi
done
