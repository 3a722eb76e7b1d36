#!/usr/bin/env bash
# cgrad train / lr-find end to end on the real MNIST_SAMPLE:
#   - the chapter's Learner(Linear(784,1), SGD, mnist_loss, batch_accuracy).fit(10, 1)
#     prints JSON lines that parse and reach the band (batch_accuracy >= 0.96);
#   - two runs with the same seed and threads give identical losses;
#   - --out DIR writes DIR/model.safetensors, which `cgrad predict` reads, DIR/history.csv and
#     the plots DIR/loss.png and DIR/metric.png;
#   - lr-find suggests a valley; usage errors exit 2.
# Usage: train.sh /path/to/cgrad   (CTest passes it; CGRAD_MIRROR/CGRAD_HOME set by CTest)
set -u -o pipefail
CGRAD=${1:?usage: train.sh /path/to/cgrad}
WORK=$(mktemp -d "${CGRAD_BINARY_DIR:-/tmp}/cli_train.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

run() { "$CGRAD" train --data mnist_sample --model linear --epochs 10 --lr 1 --seed 42 --threads 1 "$@"; }

run --json --out "$WORK/linear" > "$WORK/a.json" 2> "$WORK/a.err" || fail "train exited $?: $(cat "$WORK/a.err")"
run --json > "$WORK/b.json" 2> /dev/null || fail "second train run failed"

# 10 epoch objects + 1 summary, each a flat JSON object of "key": number pairs
[ "$(wc -l < "$WORK/a.json")" -eq 11 ] || fail "expected 11 JSON lines, got $(wc -l < "$WORK/a.json")"
num='-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?'
pair="\"[a-z_]+\": ($num|true|null)"
grep -Evq "^\{$pair(, $pair)*\}$" "$WORK/a.json" && fail "a line is not a flat JSON object: $(grep -Ev "^\{$pair(, $pair)*\}$" "$WORK/a.json" | head -1)"
for e in 0 9; do
    grep -Eq "^\{\"epoch\": $e, \"train_loss\": $num, \"valid_loss\": $num, \"batch_accuracy\": $num, \"seconds\": $num}$" "$WORK/a.json" \
        || fail "epoch $e line missing or malformed"
done
if command -v /usr/bin/python3 > /dev/null; then  # a real JSON parser, when there is one
    /usr/bin/python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$WORK/a.json" \
        || fail "python's json cannot parse the output"
fi
acc=$(grep '"summary": true' "$WORK/a.json" | sed -E 's/.*"batch_accuracy": ([^,}]*).*/\1/')
awk -v a="$acc" 'BEGIN { exit !(a >= 0.96) }' || fail "batch_accuracy $acc below the band 0.96 (book 0.967615)"
echo "linear fit(10, 1): batch_accuracy $acc"

# the chapter's manual runs as subcommands: linear1 (init_params weights, xb@weights+bias)
# with BasicOptim for 20 epochs (book 0.9696), and nn.Linear with BasicOptim (book 0.9785)
band() { # band <min> <args...>
    local min=$1; shift
    "$CGRAD" train --data mnist_sample --epochs 20 --lr 1 --seed 42 --threads 1 --json "$@" \
        > "$WORK/m.json" 2> /dev/null || fail "train $* failed"
    acc=$(grep '"summary": true' "$WORK/m.json" | sed -E 's/.*"batch_accuracy": ([^,}]*).*/\1/')
    awk -v a="$acc" -v m="$min" 'BEGIN { exit !(a >= m) }' || fail "train $*: batch_accuracy $acc below $min"
    echo "train $*: batch_accuracy $acc"
}
band 0.96 --model linear1 --opt basic
band 0.97 --model linear --opt basic

# bit-identical reruns: everything but the timings
strip() { sed -E 's/, "seconds": [^}]*//' "$1"; }
[ "$(strip "$WORK/a.json")" = "$(strip "$WORK/b.json")" ] || fail "two runs with seed 42 differ"

# an image folder (the cached MNIST_SAMPLE as a plain path): cross_entropy over
# 2 classes, shuffled training batches, Adam with fit_one_cycle; the same seed
# gives the same shuffle and the same numbers
folder="${CGRAD_HOME:-$HOME/.cgrad}/data/mnist_sample"
[ -d "$folder/train" ] || fail "the cached dataset $folder is missing after train got it"
fold() { "$CGRAD" train --data "$folder" --model linear --epochs 2 --lr 0.01 --one-cycle --opt adam \
             --seed 7 --threads 1 --json 2> /dev/null; }
fold > "$WORK/c.json" || fail "train on an image folder failed"
fold > "$WORK/d.json" || fail "second train on an image folder failed"
[ "$(strip "$WORK/c.json")" = "$(strip "$WORK/d.json")" ] || fail "shuffled reruns with seed 7 differ"
acc=$(grep '"summary": true' "$WORK/c.json" | sed -E 's/.*"accuracy": ([^,}]*).*/\1/')
awk -v a="$acc" 'BEGIN { exit !(a >= 0.95) }' || fail "folder + one-cycle accuracy $acc below 0.95"
echo "image folder, Adam, fit_one_cycle(2, 0.01): accuracy $acc"

# the table went to stderr; the CSV and the plots exist
grep -q "^epoch  train_loss  valid_loss  batch_accuracy  time$" "$WORK/a.err" || fail "no results table on stderr"
[ "$(head -1 "$WORK/linear/history.csv")" = "epoch,train_loss,valid_loss,batch_accuracy,time" ] || fail "bad CSV header"
[ "$(wc -l < "$WORK/linear/history.csv")" -eq 11 ] || fail "CSV should have 11 lines"
for f in linear/loss.png linear/metric.png; do
    [ "$(head -c 8 "$WORK/$f" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "$f is not a PNG"
done

# the saved model predicts a three from the validation set
img=$(ls "$folder/valid/3" | head -1)
[ -n "$img" ] || fail "no image in $folder/valid/3"
out=$("$CGRAD" predict --model "$WORK/linear/model.safetensors" "$folder/valid/3/$img") \
    || fail "predict failed on the saved model"
[ "${out%%	*}" = "3" ] || fail "the saved model called a 3 '$out'"

# lr-find: a valley between 1e-7 and 10
lr=$("$CGRAD" lr-find --data mnist_sample --model linear --threads 1 --json 2> /dev/null \
     | sed -E 's/^\{"valley": ([^,]*),.*/\1/') || fail "lr-find failed"
awk -v v="$lr" 'BEGIN { exit !(v > 1e-7 && v < 10) }' || fail "lr-find valley '$lr' out of range"
echo "lr-find valley: $lr"

# usage errors
"$CGRAD" train --data mnist_sample > /dev/null 2>&1; [ $? -eq 2 ] || fail "missing --model should exit 2"
"$CGRAD" train --data mnist_sample --model linear --epochs zero > /dev/null 2>&1; [ $? -eq 2 ] || fail "bad --epochs should exit 2"
"$CGRAD" train --data mnist_sample --model nosuch > /dev/null 2>&1; [ $? -eq 1 ] || fail "unknown model should exit 1"
"$CGRAD" train --help | grep "^usage: cgrad train" > /dev/null || fail "no --help"  # not -q: grep must read it all (pipefail)
echo "ok"
