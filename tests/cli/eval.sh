#!/usr/bin/env bash
# cgrad eval, fastai's ClassificationInterpretation: a tiny model trained on a
# hand-made folder (8x8 gray PNGs written with printf, so it runs in seconds)
# is evaluated, and
#   - the accuracy and loss eval prints are the last epoch's valid accuracy and
#     valid loss that train printed (same model, same valid set, eval mode);
#   - the confusion matrix holds every valid item once (8) and its diagonal
#     matches the accuracy;
#   - the top losses list --k items, the largest loss first, each named by its
#     file under the data folder (valid/dark/1.png: fastai's dl.items[idx]) whose
#     class folder is the actual class printed beside it; from IDX files (no
#     files) by its index in the valid set; --json gives both;
#   - confusion.png and top_losses.png exist in --out and decode;
#   - usage errors exit 2.
# Usage: eval.sh /path/to/cgrad
set -u -o pipefail
cgrad=${1:?usage: eval.sh /path/to/cgrad}
case "$cgrad" in /*) ;; *) cgrad="$PWD/$cgrad" ;; esac
tmp=$(mktemp -d "${CGRAD_BINARY_DIR:-/tmp}/cli_eval.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# two 8x8 gray PNGs: dark (0 | 40 halves) and light (255 | 215 halves), as in hardening.sh
dark='\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x08\x00\x00\x00\x08\x08\x00\x00\x00\x00\xe1\x64\xe1\x57\x00\x00\x00\x16\x49\x44\x41\x54\x78\xda\x63\x64\x60\x60\x60\xd0\x60\x60\x60\x60\x62\x80\x02\xf2\x18\x00\x0d\x00\x00\x38\x86\x94\xae\x91\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82'
light='\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x08\x00\x00\x00\x08\x08\x00\x00\x00\x00\xe1\x64\xe1\x57\x00\x00\x00\x15\x49\x44\x41\x54\x78\xda\x63\xfc\xcf\x00\x01\x4c\x0c\x38\x19\x2c\x37\x08\xab\x01\x00\x67\x11\x01\xe9\xf5\xfb\x3b\x90\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82'
for s in train valid; do
    for c in dark light; do
        mkdir -p "two/$s/$c"
        for i in 1 2 3 4; do printf "${!c}" > "two/$s/$c/$i.png"; done
    done
done

train=$("$cgrad" train --data two --model linear --epochs 3 --lr 0.01 --bs 4 --seed 1 --out m 2>&1) ||
    { echo "FAIL: train: $train"; exit 1; }
# the last epoch's row: epoch train_loss valid_loss accuracy time
last=$(grep -E '^[0-9]+ ' <<<"$train" | tail -1)
want_loss=$(awk '{print $3}' <<<"$last") want_acc=$(awk '{print $4}' <<<"$last")
[ -n "$want_acc" ] || bad "no epoch row in: $train"

out=$("$cgrad" eval --model m/model.safetensors --data two --k 3 --out pics 2>&1) || bad "eval exited $?: $out"
echo "$out"
acc=$(awk '/^accuracy /{print $2}' <<<"$out") loss=$(awk '/^loss /{print $2}' <<<"$out")
[ "$acc" = "$want_acc" ] || bad "eval accuracy $acc, train's last valid accuracy $want_acc"
[ "$loss" = "$want_loss" ] || bad "eval loss $loss, train's last valid loss $want_loss"
# the matrix: the two rows after its header line, "name count count"
rows=$(grep -A3 '^confusion matrix' <<<"$out" | tail -2)
total=$(awk '{s += $2 + $3} END {print s}' <<<"$rows")
diag=$(awk 'NR == 1 {d += $2} NR == 2 {d += $3} END {print d}' <<<"$rows")
[ "$total" = 8 ] || bad "the confusion matrix sums to $total, not the 8 valid items: $rows"
awk -v d="$diag" -v a="$acc" 'BEGIN {exit !(d / 8 == a + 0)}' || bad "diagonal $diag / 8 is not accuracy $acc"
# three top losses, sorted by loss (column 4) descending, named by their files
grep -qxF "top 3 losses (image: its file under the data folder)" <<<"$out" || bad "no top-losses header naming files"
tops=$(sed -n '/^image\t/,/^$/p' <<<"$out" | grep -E '^valid/(dark|light)/[1-4]\.png'$'\t')
[ "$(wc -l <<<"$tops")" = 3 ] || bad "not 3 top losses named valid/CLASS/N.png: $(sed -n '/^image/,$p' <<<"$out")"
sort -s -t$'\t' -k4,4 -g -r -c <<<"$tops" || bad "top losses not largest first: $tops"
# the file's class folder is the actual class, and the file is there
while IFS=$'\t' read -r file pred actual loss prob; do
    [ "$(basename "$(dirname "$file")")" = "$actual" ] || bad "top loss $file: actual '$actual' is not its folder"
    [ -f "two/$file" ] || bad "top loss $file: no two/$file"
done <<<"$tops"
json=$("$cgrad" eval --model m/model.safetensors --data two --k 3 --out pics --json --quiet 2>json.err) || bad "eval --json: $(cat json.err)"
if command -v /usr/bin/python3 > /dev/null; then
    /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.argv[1]); text = sys.argv[2].splitlines()
for t, line in zip(d["top_losses"], text):
    f = line.split("\t")
    assert t["path"] == f[0] and "%.4f" % t["loss"] == f[3], (t, f)
    assert t["path"].split("/")[1] == d["classes"][t["actual"]], t
    assert t["path"] == "valid/%s/%d.png" % (d["classes"][t["actual"]], t["item"] % 4 + 1), t  # sorted: dark 1-4, light 1-4
' "$json" "$tops" || bad "eval --json's top losses disagree with the text: $json"
fi

# IDX files (MNIST's four, 8x8, 4 training and 4 test images each): no files to name,
# so the top losses are indices into the valid set
mkdir idx
idx_images() { printf '\x00\x00\x08\x03\x00\x00\x00\x04\x00\x00\x00\x08\x00\x00\x00\x08'
               head -c 128 /dev/zero; head -c 128 /dev/zero | tr '\0' '\377'; }
idx_labels() { printf '\x00\x00\x08\x01\x00\x00\x00\x04\x00\x00\x01\x01'; }
for t in train t10k; do idx_images > "idx/$t-images-idx3-ubyte"; idx_labels > "idx/$t-labels-idx1-ubyte"; done
"$cgrad" train --data idx --model linear --epochs 1 --lr 0.01 --bs 4 --seed 1 --out mi --quiet > /dev/null 2>&1 ||
    bad "train on an IDX folder failed"
idx_out=$("$cgrad" eval --model mi/model.safetensors --data idx --k 4 --out mpics 2>&1) || bad "eval on IDX: $idx_out"
grep -qxF "top 4 losses (image: its index in the valid set)" <<<"$idx_out" || bad "IDX eval's header: $idx_out"
idx_tops=$(sed -n '/^image\t/,/^$/p' <<<"$idx_out" | grep -E '^[0-3]'$'\t' | cut -f1 | sort | tr '\n' ' ')
[ "$idx_tops" = "0 1 2 3 " ] || bad "IDX eval's top losses are not the indices 0..3: $idx_out"
for f in confusion.png top_losses.png; do
    [ -s "pics/$f" ] || { bad "pics/$f missing"; continue; }
    "$cgrad" show "pics/$f" --no-color > /dev/null || bad "pics/$f does not decode"
done

# MNIST_SAMPLE with a flat model reads the chapter's tensors (threes then sevens, stacked from
# the sorted folders): the top losses are still named by their files
if [ -n "${CGRAD_MIRROR:-}" ]; then
    "$cgrad" train --data mnist_sample --model linear --epochs 1 --lr 1 --threads 1 --out ms --quiet > /dev/null 2>&1 ||
        bad "train on mnist_sample failed"
    "$cgrad" eval --model ms/model.safetensors --data mnist_sample --k 5 --threads 1 --json --quiet > ms.json 2> ms.err ||
        bad "eval on mnist_sample: $(cat ms.err)"
    root=$("$cgrad" data get mnist_sample --quiet)
    if command -v /usr/bin/python3 > /dev/null; then
        /usr/bin/python3 -c '
import json, os, sys
d = json.load(open(sys.argv[1])); root = sys.argv[2]
assert d["items"] == 2038 and len(d["top_losses"]) == 5, d
for t in d["top_losses"]:
    cls = d["classes"][t["actual"]]
    assert t["path"].startswith("valid/%s/" % cls) and os.path.isfile(os.path.join(root, t["path"])), t
    # the row of the file: valid/3 sorted first (1010 of them), then valid/7 sorted
    names = sorted(f for f in os.listdir(os.path.join(root, "valid", cls)) if f.endswith(".png"))
    row = names.index(os.path.basename(t["path"])) + (0 if cls == "3" else 1010)
    assert row == t["item"], (t, row)
' ms.json "$root" || bad "eval on mnist_sample: top losses not named by their files: $(cat ms.json)"
    fi
fi

"$cgrad" eval --data two > /dev/null 2>&1; [ $? = 2 ] || bad "eval without --model should exit 2"
"$cgrad" eval --model m/model.safetensors --data two --k 0 > /dev/null 2>&1; [ $? = 2 ] || bad "--k 0 should exit 2"
"$cgrad" eval --model missing.safetensors --data two > /dev/null 2>&1; [ $? = 1 ] || bad "a missing model should exit 1"
[ $fail = 0 ] && echo "eval.sh: all ok"
exit $fail
