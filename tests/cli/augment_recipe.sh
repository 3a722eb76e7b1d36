#!/usr/bin/env bash
# The full-MNIST >= 99.6% recipe's two training options (issue 9), on a cut of MNIST:
#   - --max-translate X (with --augment: a shift uniform in +-X per axis, grid units)
#     and --loss label_smoothing (fastai's LabelSmoothingCrossEntropy, eps 0.1) are in
#     --help; --max-translate without --augment, or outside 0..2, is a usage error;
#   - cnn, 1 epoch on 1000 digits with both reaches an accuracy floor, its model file
#     names the loss, and `cgrad eval` reads it back with that loss;
#   - --max-translate changes the training batches (another train_loss than
#     --augment alone, same seed), and --max-translate 0 is --augment alone, bit for bit.
# (The loss's values and gradient: test_losses; the shift's sampling: test_augment.)
# Usage: augment_recipe.sh /path/to/cgrad   (CTest passes it; CGRAD_MIRROR/CGRAD_HOME set by CTest)
set -u -o pipefail
CGRAD=${1:?usage: augment_recipe.sh /path/to/cgrad}
WORK=$(mktemp -d "${CGRAD_BINARY_DIR:-/tmp}/cli_augment_recipe.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
MIRROR=${CGRAD_MIRROR:?CGRAD_MIRROR must name the data mirror}
[ -f "$MIRROR/mnist/train-images-idx3-ubyte.gz" ] || fail "no MNIST IDX files in $MIRROR/mnist"

# ---- an IDX folder of the first N images of each split (tests/cli/lib/mnist_cut.sh) ----
. "$(dirname "$0")/lib/mnist_cut.sh"
mnist_cut "$WORK/digits" 1000 300

summary() { grep '"summary": true' "$1"; }
field() { summary "$1" | sed -E "s/.*\"$2\": ([^,}]*).*/\\1/"; }

# ---- --help and the usage errors ----------------------------------------------
"$CGRAD" train --help > "$WORK/help.txt" || fail "train --help exited $?"
grep -q -- "--max-translate X" "$WORK/help.txt" || fail "--help does not list --max-translate"
grep -q "label_smoothing is fastai's" "$WORK/help.txt" || fail "--help does not describe --loss label_smoothing"
"$CGRAD" train --data "$WORK/digits" --model cnn --max-translate 0.2 > /dev/null 2> "$WORK/e1.err"
rc=$?
[ "$rc" -eq 2 ] || fail "--max-translate without --augment exited $rc, expected 2"
grep -q -- "give --augment too" "$WORK/e1.err" || fail "--max-translate's refusal: $(cat "$WORK/e1.err")"
"$CGRAD" train --data "$WORK/digits" --model cnn --augment --max-translate 2.5 > /dev/null 2> "$WORK/e2.err"
rc=$?
[ "$rc" -eq 2 ] || fail "--max-translate 2.5 exited $rc, expected 2"
grep -q -- "--max-translate" "$WORK/e2.err" || fail "--max-translate 2.5's message: $(cat "$WORK/e2.err")"

# ---- cnn, 1 epoch of 62 batches of 16 on 1000 digits ------------------------------
run() { # name args...
    local name=$1
    shift
    "$CGRAD" train --data "$WORK/digits" --model cnn --epochs 1 --bs 16 --one-cycle --seed 42 --threads 1 \
        --json --quiet "$@" > "$WORK/$name.json" 2> "$WORK/$name.err" || fail "train $* exited $?: $(cat "$WORK/$name.err")"
    summary "$WORK/$name.json" > /dev/null || fail "no summary in the $name run: $(cat "$WORK/$name.json")"
}
run recipe --augment --max-translate 0.2 --loss label_smoothing --out "$WORK/recipe"
acc=$(field "$WORK/recipe.json" accuracy)
# measured 0.5367 here (plain cnn, cross_entropy, no augmentation: 0.6867; chance 0.1)
awk -v a="$acc" 'BEGIN { exit !(a >= 0.4) }' || fail "recipe accuracy $acc below 0.4 after 1 epoch on 1000 digits"
"$CGRAD" predict --model "$WORK/recipe/model.safetensors" --info > "$WORK/info.txt" || fail "predict --info failed"
grep -q "^loss: label_smoothing$" "$WORK/info.txt" || fail "the model file does not name its loss: $(cat "$WORK/info.txt")"
"$CGRAD" eval --model "$WORK/recipe/model.safetensors" --data "$WORK/digits" --json > "$WORK/eval.json" 2> "$WORK/eval.err" \
    || fail "eval exited $?: $(cat "$WORK/eval.err")"
ev() { grep -o "\"$1\": [^,}]*" "$WORK/eval.json" | head -n 1 | sed -E 's/.*: //'; } # the first (the top losses follow)
# the same accuracy, and the same valid loss (label smoothing's, read from the file)
awk -v a="$acc" -v b="$(ev accuracy)" -v l="$(field "$WORK/recipe.json" valid_loss)" -v m="$(ev loss)" \
    'BEGIN { d = a - b; e = l - m; exit !(d * d < 1e-12 && e * e < 1e-10) }' \
    || fail "eval's accuracy/loss $(ev accuracy)/$(ev loss) are not train's $acc/$(field "$WORK/recipe.json" valid_loss)"

# ---- the shift is applied, and 0 is no shift -------------------------------------
run aug --augment
run aug0 --augment --max-translate 0
run aug2 --augment --max-translate 0.2
[ "$(field "$WORK/aug.json" train_loss)" = "$(field "$WORK/aug0.json" train_loss)" ] \
    || fail "--max-translate 0 trains otherwise than --augment alone"
[ "$(field "$WORK/aug.json" train_loss)" != "$(field "$WORK/aug2.json" train_loss)" ] \
    || fail "--max-translate 0.2 trains exactly as --augment alone: the shift is not applied"
echo "recipe on 1000 digits: accuracy $acc; train_loss --augment $(field "$WORK/aug.json" train_loss), with --max-translate 0.2 $(field "$WORK/aug2.json" train_loss)"
