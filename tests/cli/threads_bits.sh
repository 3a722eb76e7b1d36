#!/usr/bin/env bash
# The thread count changes the speed of a run, never its result (docs/DESIGN.md, "the same bits on
# any thread count"): `cgrad train` with the same seed on --threads 1 and on --threads 2 writes the
# same model file, byte for byte (cmp), and prints the same losses.
#   - the cnn (conv, BatchNorm, ReLU, AdaptiveAvgPool, Linear; Adam, one cycle) on 256 MNIST digits,
#     8 steps of batch 32: its convs run oneDNN's blocked weight backward (sliced, cpu_conv_dnnl.c),
#     the direct kernels and the batch GEMM (cpu_conv_gemm.c), its Linear cg_cpu_gemm (cpu_blas.c);
#   - resnet18 (RGB, fastai's head: concat pool, BatchNorm1d, Dropout, two Linears) on 128 digits,
#     4 steps of batch 32: the stem, winograd/blocked 3x3s, 1x1 downsamples, the GEMM on the 2x2 and
#     1x1 maps, dropout's stream.
# Before the fix both differed: the oneDNN weight backward was cut into one batch slice per thread
# (unsliced on one), the conv GEMM and cg_cpu_gemm into one piece per thread, and cg_cpu_gemm's
# small products ran on oneDNN's own threads (at 3d8056d this script's cnn: train_loss 2.0215498487
# on --threads 1, 2.0215498785 on --threads 2).  ~15 s on the 2-core EPYC.
# Usage: threads_bits.sh /path/to/cgrad   (CTest passes it; CGRAD_MIRROR/CGRAD_HOME set by CTest)
set -u -o pipefail
CGRAD=${1:?usage: threads_bits.sh /path/to/cgrad}
WORK=$(mktemp -d "${CGRAD_BINARY_DIR:-/tmp}/cli_threads_bits.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
MIRROR=${CGRAD_MIRROR:?CGRAD_MIRROR must name the data mirror}
[ -f "$MIRROR/mnist/train-images-idx3-ubyte.gz" ] || fail "no MNIST IDX files in $MIRROR/mnist"
. "$(dirname "$0")/lib/mnist_cut.sh"
mnist_cut "$WORK/d256" 256 64
mnist_cut "$WORK/d128" 128 64

loss_of() { grep '"summary": true' "$1" | sed -E 's/.*"train_loss": ([^,}]*).*/\1/'; }

# model data-folder extra-args...: trains on --threads 1 and on 2, compares
same_on_1_and_2() {
    local model=$1 data=$2
    shift 2
    for t in 1 2; do
        "$CGRAD" train --data "$WORK/$data" --model "$model" --epochs 1 --bs 32 --seed 7 --one-cycle --json \
            --threads "$t" --out "$WORK/$model.$t" "$@" > "$WORK/$model.$t.json" 2> "$WORK/$model.$t.err" \
            || fail "$model --threads $t exited $?: $(cat "$WORK/$model.$t.err")"
    done
    local l1 l2
    l1=$(loss_of "$WORK/$model.1.json") l2=$(loss_of "$WORK/$model.2.json")
    [ -n "$l1" ] && [ -n "$l2" ] || fail "$model: no train_loss in the summaries"
    # a loss that is not a number would be the same on both and prove nothing
    awk -v a="$l1" 'BEGIN { exit !(a > 0 && a < 100) }' || fail "$model: train_loss $l1 is not a finite loss"
    [ "$l1" = "$l2" ] || fail "$model: train_loss $l1 on --threads 1, $l2 on --threads 2"
    cmp "$WORK/$model.1/model.safetensors" "$WORK/$model.2/model.safetensors" \
        || fail "$model: the model files of --threads 1 and --threads 2 differ"
    echo "$model: --threads 1 and 2 give the same model file (train_loss $l1)"
}

same_on_1_and_2 cnn d256
same_on_1_and_2 resnet18 d128 --lr 0.01
echo "PASS"
