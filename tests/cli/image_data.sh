#!/usr/bin/env bash
# cgrad train on image folders as fastai's ImageDataLoaders.from_folder reads them:
#   - --size with --resize-method trains (the images resized per batch);
#   - an empty class folder is a warning naming it, and an error with --strict;
#   - --valid-pct splits a folder without valid/ at random; --train/--valid name
#     other folders (a missing one is an error naming it);
#   - the new flags' usage errors exit 2 naming the flag.
# Built from the first MNIST_SAMPLE images of the mirror.
# Usage: image_data.sh /path/to/cgrad   (CTest passes it; CGRAD_MIRROR/CGRAD_HOME set by CTest)
set -u -o pipefail
CGRAD=${1:?usage: image_data.sh /path/to/cgrad}
WORK=$(mktemp -d "${CGRAD_BINARY_DIR:-/tmp}/cli_image_data.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
SRC=${CGRAD_MIRROR:?CGRAD_MIRROR must name the data mirror}/mnist_sample
[ -d "$SRC/train/3" ] || fail "no MNIST_SAMPLE in $SRC"

# tree/train/{3,7} (150 each), tree/valid/{3,7} (40 each), an empty tree/train/9;
# flat/{3,7} (60 each) without train/valid
for d in 3 7; do
    mkdir -p "$WORK/tree/train/$d" "$WORK/tree/valid/$d" "$WORK/flat/$d"
    ls "$SRC/train/$d" | head -150 | while read -r f; do cp "$SRC/train/$d/$f" "$WORK/tree/train/$d/"; done
    ls "$SRC/valid/$d" | head -40 | while read -r f; do cp "$SRC/valid/$d/$f" "$WORK/tree/valid/$d/"; done
    ls "$SRC/train/$d" | tail -60 | while read -r f; do cp "$SRC/train/$d/$f" "$WORK/flat/$d/"; done
done
mkdir -p "$WORK/tree/train/9"
touch "$WORK/tree/train/7/.DS_Store.png" "$WORK/tree/train/3/notes.txt"  # skipped: a dotfile, not an image

run() { "$CGRAD" train --model linear --epochs 3 --lr 0.5 --seed 42 --threads 1 --json "$@"; }
acc_of() { grep '"summary": true' "$1" | sed -E 's/.*"accuracy": ([^,}]*).*/\1/'; }

run --data "$WORK/tree" --size 20 --resize-method squash > "$WORK/a.json" 2> "$WORK/a.err" \
    || fail "train --size 20 exited $?: $(cat "$WORK/a.err")"
grep -q "train/9 is an empty class folder" "$WORK/a.err" || fail "no warning for the empty class folder: $(cat "$WORK/a.err")"
acc=$(acc_of "$WORK/a.json")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.85) }' || fail "accuracy $acc below 0.85 on 3s vs 7s resized to 20x20"
echo "--size 20 --resize-method squash: accuracy $acc"

run --data "$WORK/tree" --size 24 > /dev/null 2>&1 || fail "train --size 24 (crop) failed"
run --data "$WORK/tree" --size 32 --resize-method pad > /dev/null 2>&1 || fail "train --size 32 --resize-method pad failed"

"$CGRAD" train --data "$WORK/tree" --model linear --epochs 1 --strict > /dev/null 2> "$WORK/s.err"
rc=$?
[ "$rc" -eq 1 ] || fail "--strict with an empty class folder exited $rc, expected 1"
grep -q "train/9" "$WORK/s.err" || fail "--strict's error does not name the folder: $(cat "$WORK/s.err")"

run --data "$WORK/flat" --valid-pct 0.25 > "$WORK/p.json" 2> "$WORK/p.err" || fail "--valid-pct 0.25 failed: $(cat "$WORK/p.err")"
acc=$(acc_of "$WORK/p.json")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.8) }' || fail "--valid-pct accuracy $acc below 0.8"
echo "--valid-pct 0.25: accuracy $acc"

run --data "$WORK/tree" --train valid --valid train > /dev/null 2>&1 || fail "--train valid --valid train failed"
"$CGRAD" train --data "$WORK/tree" --model linear --train training > /dev/null 2> "$WORK/t.err"
[ $? -eq 1 ] || fail "a missing --train folder should exit 1"
grep -q "training" "$WORK/t.err" || fail "the error does not name the missing folder: $(cat "$WORK/t.err")"

usage() { # usage <flag words...>: exit 2 and the first flag named
    "$CGRAD" train --data "$WORK/tree" --model linear "$@" > /dev/null 2> "$WORK/u.err"
    local rc=$?
    [ "$rc" -eq 2 ] || fail "$* exited $rc, expected 2"
    grep -q -- "$1" "$WORK/u.err" || fail "$*: the message does not name $1: $(cat "$WORK/u.err")"
}
usage --size 0
usage --size abc
usage --size 99999999
usage --valid-pct 1
usage --valid-pct 0
usage --valid-pct nan
usage --resize-method zoom
echo "ok"
