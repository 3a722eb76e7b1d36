#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR] — run every benchmark program and its PyTorch twin.
#
# For each build/bench/bench_<name> (cmake builds bench/*.c there), runs it,
# then bench/<name>_torch.py if it exists, with the same 2 threads on both
# sides, and prints one table per bench: op, cgrad ms, torch ms, ratio
# (cgrad / torch: below 1 means cgrad is faster).
#
# The machine is shared: check `uptime` first; with other jobs running, a
# 2-thread run waits on descheduled threads (CGRAD_BENCH_THREADS=1 is steadier,
# CGRAD_BENCH_REPEAT=3 keeps each op's best of 3 alternating runs).
#
# Protocol for a new bench: the C program prints `RESULT<TAB>op<TAB>ms`
# lines (and `NOTE<TAB>text` lines); the torch script prints the same op
# names.  A RESULT line may add a 4th field, the op's work in GFLOP: the
# table then shows cgrad's GFLOP/s and, when the program also printed
# `PEAK<TAB>GFLOP/s` (a peak it measured in the same run, e.g. bench_conv's
# SGEMM), the fraction of that peak.  Tables with ratios end with their
# geometric mean.  Build in Release for meaningful numbers:
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2
#   bench/run.sh build
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
python=${CGRAD_BENCH_PYTHON:-/usr/bin/python3}
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

status=0
for bin in "${bins[@]}"; do
    [ -x "$bin" ] || continue
    name=${bin##*/bench_}
    echo "== $name ($bin, $threads threads, load average $(cut -d' ' -f1-3 /proc/loadavg))"
    # CGRAD_BENCH_REPEAT pairs of runs, alternating cgrad and torch so both
    # meet the same background load; each op keeps its fastest time.
    c_all="" t_all="" c_out="" t_out=""
    for ((r = 0; r < ${CGRAD_BENCH_REPEAT:-1}; r++)); do
        c_out=$("$bin") || { echo "run.sh: $bin failed" >&2; status=1; }
        c_all+=$c_out$'\n'
        if [ -f "$here/${name}_torch.py" ]; then
            t_out=$("$python" "$here/${name}_torch.py") || { echo "run.sh: ${name}_torch.py failed" >&2; status=1; }
            t_all+=$t_out$'\n'
        fi
    done
    # The table: cgrad's ops in order, torch's time joined by op name.
    awk -F'\t' '
        FNR == NR { if ($1 == "RESULT" && (!($2 in torch) || $3 < torch[$2])) torch[$2] = $3; next }
        $1 == "PEAK" { if ($2 > peak) peak = $2 }
        $1 == "RESULT" {
            if (!($2 in best)) order[n++] = $2
            if (!($2 in best) || $3 < best[$2]) best[$2] = $3
            if (NF >= 4) { work[$2] = $4; nwork++ }
        }
        END {
            printf "%-38s %12s %12s %8s", "op", "cgrad ms", "torch ms", "ratio"
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
            if (rows) printf "%-38s %12s %12s %8.2f\n", "geometric mean of ratios", "", "", exp(logsum / rows)
            if (peak) printf "(peak: %.1f GFLOP/s, measured by this run)\n", peak
        }' <(printf '%s' "$t_all") <(printf '%s' "$c_all")
    printf '%s\n' "$c_out" | awk -F'\t' '$1 == "NOTE" { print "  cgrad: " $2 }'
    printf '%s\n' "$t_out" | awk -F'\t' '$1 == "NOTE" { print "  torch: " $2 }'
    echo
done
exit $status
