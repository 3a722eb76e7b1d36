#!/usr/bin/env bash
# cgrad pixel-similarity, cgrad show and the pixel_similarity example, run as a
# user runs them: the chapter's exact numbers, the 10-digit accuracies (PyTorch
# gives 6685 and 8203 of 10000 on the same files), the saved PNGs, and errors.
# Usage (CTest): bash pixel_similarity.sh <path-to-cgrad>, with CGRAD_MIRROR,
# CGRAD_HOME and CGRAD_BINARY_DIR set.
set -u
cgrad="$1"
fail=0
tmp=$(mktemp -d /tmp/cgrad-cli-pixsim-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
expect() { # expect <what> <literal text that must appear in $out>
  if grep -qF -- "$2" <<<"$out"; then echo "ok: $1"; else echo "FAIL: $1 did not print: $2"; fail=1; fi
}
is_png() { # is_png <file>: exists and starts with the PNG signature
  if [ "$(head -c 8 "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; then
    echo "ok: $1 is a PNG"; else echo "FAIL: $1 is not a PNG"; fail=1; fi
}

out=$("$cgrad" pixel-similarity --show --no-color --out "$tmp/ps")
expect "folder sizes" "train/3 6131, train/7 6265, valid/3 1010, valid/7 1028"
expect "a_3 is threes[1]" "a_3 = stacked_threes[1]: 10000.png"
expect "distances to mean3" "(tensor(0.1114), tensor(0.2021))"
expect "distances to mean7" "dist_7_abs, dist_7_sqr: (tensor(0.1586), tensor(0.3021))"
expect "F.l1_loss / F.mse_loss" "F.mse_loss(a_3,mean7).sqrt(): (tensor(0.1586), tensor(0.3021))"
expect "accuracies" "(tensor(0.9168), tensor(0.9854), tensor(0.9511))"
expect "counts" "926 of 1010 threes and 1013 of 1028 sevens right"
expect "pixel table row 3" " 3   0  93 244 249 253 187  46  10   8   4  10 194 253 253 233   0   0   0"
for f in mean3 mean7 a_3; do is_png "$tmp/ps/$f.png"; done

out=$("$cgrad" pixel-similarity --digits 10 --out "$tmp/ps10")
expect "10 digits, L1" "L1        0.6685  (6685 of 10000)"
expect "10 digits, RMSE" "RMSE      0.8203  (8203 of 10000)"
is_png "$tmp/ps10/means.png"

# the example program prints the same numbers
out=$("${CGRAD_BINARY_DIR:?}/examples/pixel_similarity" "$tmp")
expect "example: sizes" "(6131, 6265)"
expect "example: shape" "torch.Size([6131, 28, 28])"
expect "example: accuracies" "(tensor(0.9168), tensor(0.9854), tensor(0.9511))"
is_png "$tmp/mean3.png"

# the pixels example: the chapter's listings and tensor(im3)[4:10,4:10]
out=$("${CGRAD_BINARY_DIR:?}/examples/pixels" "$tmp")
expect "pixels: path.ls()" "(#3) [Path('labels.csv'),Path('train'),Path('valid')]"
expect "pixels: threes" "(#6131) [Path('train/3/10.png'),Path('train/3/10000.png'),Path('train/3/10011.png')"
expect "pixels: im3 rows" "        [  0,  93, 244, 249, 253, 187],"
expect "pixels: dtype" "        [  0,   3,  20,  20,  15,   0]], dtype=torch.uint8)"
is_png "$tmp/im3.png"

# cgrad show: the chapter's array(im3)[4:10,4:10], a grid PNG, errors
data=$("$cgrad" data get mnist_sample --quiet)
out=$("$cgrad" show "$data/train/3/10000.png" --table 4:10,4:10 --no-color)
expect "show --table" "3   0  93 244 249 253 187"
out=$("$cgrad" show "$data/train/3/10000.png" --table 4:15,4:22 --color)
expect "show --table --color: darkest cell white on black" $'\x1b[38;5;231;48;5;16m 255\x1b[0m'
out=$("$cgrad" show "$data/train/3/10000.png" --color)
expect "show --color: half blocks" $'\x1b[38;5;231;48;5;16m\xe2\x96\x80'
out=$("$cgrad" show "$data" --split valid --count 9 --out "$tmp/grid" 2>&1)
expect "show grid" "saved $tmp/grid/batch.png"
is_png "$tmp/grid/batch.png"
echo "not a png" > "$tmp/fake.png"
out=$("$cgrad" show "$tmp/fake.png" 2>&1); rc=$?
if [ $rc -eq 1 ]; then echo "ok: bad PNG exits 1"; else echo "FAIL: bad PNG exit code $rc"; fail=1; fi
expect "bad PNG message" "cgrad: png: $tmp/fake.png: not a PNG file (bad signature)"
out=$("$cgrad" pixel-similarity --digits 3 2>&1); rc=$?
if [ $rc -eq 2 ]; then echo "ok: bad --digits exits 2"; else echo "FAIL: bad --digits exit code $rc"; fail=1; fi
exit $fail
