#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR] [NAME...] — run the benchmark programs and their PyTorch twins.
#
# For each build/bench/bench_<name> (cmake builds bench/*.c there; NAMEs,
# e.g. `vision` or `conv core`, pick some), runs it, then bench/<name>_torch.py
# if it exists, with the same 2 threads on both sides, and prints one table
# per bench: op, cgrad ms, torch ms, ratio (cgrad / torch: below 1 means
# cgrad is faster).
#
#   bash bench/run.sh vision            issue 9's resnet18 and cnn epochs
#   TORCH_PYTHON="/usr/bin/python3 /work/venv-torch2/bin/python" bash bench/run.sh vision
#
# TORCH_PYTHON names the Python (with torch) of the torch side, default
# /usr/bin/python3 (Debian's PyTorch 1.13; CGRAD_BENCH_PYTHON is the older
# name); several, separated by spaces, each get their own table against the
# same cgrad run (e.g. PyTorch 1.13 and 2.x in one run).
#
# The machine is shared: check `uptime` first; with other jobs running, a
# 2-thread run waits on descheduled threads (CGRAD_BENCH_THREADS=1 is steadier,
# CGRAD_BENCH_REPEAT=3 keeps each op's best of 3 alternating runs).  The
# vision bench reports CPU seconds beside the wall clock for that reason.
#
# Protocol for a new bench: the C program prints `RESULT<TAB>op<TAB>ms`
# lines (and `NOTE<TAB>text` lines); the torch script prints the same op
# names.  A RESULT line may add a 4th field, the op's work in GFLOP: the
# table then shows cgrad's GFLOP/s and, when the program also printed
# `PEAK<TAB>GFLOP/s` (a peak it measured in the same run, e.g. bench_conv's
# SGEMM), the fraction of that peak.  A program that prints `UNITS<TAB>...`
# gives each op's unit in its name instead of ms (bench_vision: seconds,
# MiB); its table has no geometric mean.  `DATA<TAB>part<TAB>folder` lines
# are handed to the torch script as CGRAD_BENCH_DATA_<PART>=folder, so both
# sides read the same files.  Tables with ratios end with their geometric
# mean.  Build in Release for meaningful numbers:
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2
#   bench/run.sh build
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$here/../build
if [[ $# -gt 0 && -d $1 ]]; then build=$1; shift; fi
names=("$@") # empty: every bench
read -r -a pythons <<< "${TORCH_PYTHON:-${CGRAD_BENCH_PYTHON:-/usr/bin/python3}}"
# Both sides use the same thread count: CGRAD_BENCH_THREADS (default 2).
threads=${CGRAD_BENCH_THREADS:-2}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

# Data comes through the same path as users': the public URLs, or $CGRAD_MIRROR;
# with no mirror set and ../shared/data beside the clone, that folder is used.
if [[ -z "${CGRAD_MIRROR+set}" && -d "$here/../../shared/data" ]]; then
    export CGRAD_MIRROR="$(cd "$here/../../shared/data" && pwd)"
fi

shopt -s nullglob
bins=("$build"/bench/bench_*)
if [ ${#bins[@]} -eq 0 ]; then
    echo "run.sh: no bench programs in $build/bench (configure with -DCGRAD_BUILD_BENCH=ON and build)" >&2
    exit 1
fi

for name in "${names[@]}"; do
    [ -x "$build/bench/bench_$name" ] || { echo "run.sh: no bench_$name in $build/bench" >&2; exit 1; }
done

# Prints the table of one bench: cgrad's ops in order (from file $2), the
# torch side's value (from file $1) joined by op name.
table() {
    awk -F'\t' '
        FILENAME == ARGV[1] { if ($1 == "RESULT" && (!($2 in torch) || $3 < torch[$2])) torch[$2] = $3; next }
        $1 == "PEAK" { if ($2 > peak) peak = $2 }
        $1 == "UNITS" { units = 1 }
        $1 == "RESULT" {
            if (!($2 in best)) order[n++] = $2
            if (!($2 in best) || $3 < best[$2]) best[$2] = $3
            if (NF >= 4) { work[$2] = $4; nwork++ }
        }
        END {
            printf "%-38s %12s %12s %8s", "op", units ? "cgrad" : "cgrad ms", units ? "torch" : "torch ms", "ratio"
            if (nwork) printf " %9s%s", "GFLOP/s", peak ? sprintf(" %7s", "peak") : ""
            printf "\n"
            for (i = 0; i < n; i++) {
                op = order[i]
                if (op in torch && torch[op] > 0) {
                    r = best[op] / torch[op]
                    printf "%-38s %12.3f %12.3f %8.2f", op, best[op], torch[op], r
                    logsum += log(r); rows++
                } else
                    printf "%-38s %12.3f %12s %8s", op, best[op], "-", "-"
                if (op in work) {
                    g = work[op] / (best[op] / 1e3)
                    printf " %9.1f", g
                    if (peak) printf " %6.0f%%", 100 * g / peak
                }
                printf "\n"
            }
            if (rows && !units) printf "%-38s %12s %12s %8.2f\n", "geometric mean of ratios", "", "", exp(logsum / rows)
            if (peak) printf "(peak: %.1f GFLOP/s, measured by this run)\n", peak
        }' "$1" "$2"
}

status=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for bin in "${bins[@]}"; do
    [ -x "$bin" ] || continue
    name=${bin##*/bench_}
    if [ ${#names[@]} -gt 0 ] && ! printf '%s\n' "${names[@]}" | grep -qx "$name"; then continue; fi
    echo "== $name ($bin, $threads threads, load average $(cut -d' ' -f1-3 /proc/loadavg), $(lscpu | sed -n 's/^Model name: *//p'))"
    # bench_allreduce measures MPI between ranks: mpirun, CGRAD_BENCH_RANKS (default 2), 1 thread each
    launch=()
    if [ "$name" = allreduce ] && command -v mpirun > /dev/null; then
        launch=(env OMP_NUM_THREADS=1 mpirun --oversubscribe -np "${CGRAD_BENCH_RANKS:-2}")
        [ "$(id -u)" -eq 0 ] && launch+=(--allow-run-as-root)
    fi
    # CGRAD_BENCH_REPEAT rounds, each cgrad then every torch, alternating so
    # all sides meet the same background load; each op keeps its best value.
    : > "$tmp/c_all"
    for p in "${!pythons[@]}"; do : > "$tmp/t_all.$p"; : > "$tmp/t_out.$p"; done
    twin=$here/${name}_torch.py
    for ((r = 0; r < ${CGRAD_BENCH_REPEAT:-1}; r++)); do
        "${launch[@]}" "$bin" > "$tmp/c_out" || { echo "run.sh: $bin failed" >&2; status=1; }
        cat "$tmp/c_out" >> "$tmp/c_all"
        [ -f "$twin" ] || continue
        # The data folders cgrad read, for the torch side to read too.
        while IFS=$'\t' read -r part folder; do
            export "CGRAD_BENCH_DATA_${part^^}=$folder"
        done < <(awk -F'\t' '$1 == "DATA" { print $2 "\t" $3 }' "$tmp/c_out")
        for p in "${!pythons[@]}"; do
            "${pythons[$p]}" "$twin" > "$tmp/t_out.$p" || { echo "run.sh: ${pythons[$p]} $twin failed" >&2; status=1; }
            cat "$tmp/t_out.$p" >> "$tmp/t_all.$p"
        done
    done
    if [ -f "$twin" ]; then
        for p in "${!pythons[@]}"; do
            [ ${#pythons[@]} -eq 1 ] || echo "-- torch side: ${pythons[$p]}"
            table "$tmp/t_all.$p" "$tmp/c_all"
            awk -F'\t' '$1 == "NOTE" { print "  torch: " $2 }' "$tmp/t_out.$p"
        done
    else
        table "$tmp/t_all.0" "$tmp/c_all"
    fi
    awk -F'\t' '$1 == "NOTE" { print "  cgrad: " $2 }' "$tmp/c_out"
    echo
done
exit $status
