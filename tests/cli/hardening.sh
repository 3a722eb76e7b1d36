#!/usr/bin/env bash
# Issue 7 on the command line: untrusted numbers, names and paths.
#   - every numeric flag goes through one strict parser: a value that is not a
#     number, or outside the range its --help gives, is a usage error (exit 2)
#     naming the flag and the range; --lr takes any positive finite value;
#   - usage errors name the flag (an unknown one is "unknown", not "missing a
#     value"); `--` ends the options; `cgrad --version` works;
#   - names read from files (class folders, model metadata) are printed escaped;
#   - --save/--csv/--plot are checked before training, and a plot or CSV that
#     fails after training still leaves the saved model (exit 1);
#   - a folder with one class is refused before training.
# The data is made here: 8x8 gray PNGs written with printf, so it runs in seconds.
# Usage: hardening.sh /path/to/cgrad
set -u -o pipefail
cgrad=${1:?usage: hardening.sh /path/to/cgrad}
case "$cgrad" in /*) ;; *) cgrad="$PWD/$cgrad" ;; esac
tmp=$(mktemp -d "${CGRAD_BINARY_DIR:-/tmp}/cli_hardening.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fail=0
bad() { echo "FAIL: $*"; fail=1; }
ESC=$'\033'

# check <exit code> <text expected in stdout+stderr> <args...>
check() {
    local code=$1 text=$2; shift 2
    out=$("$cgrad" "$@" 2>&1); rc=$?
    if [ "$rc" != "$code" ]; then bad "cgrad $* exited $rc, expected $code: $(head -3 <<<"$out")"; return; fi
    if ! grep -qF -- "$text" <<<"$out"; then bad "cgrad $* did not print: $text ($(head -3 <<<"$out"))"; return; fi
    echo "ok: cgrad $* -> $code"
}

# two 8x8 gray PNGs: dark (0 | 40 halves) and light (255 | 215 halves)
dark='\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x08\x00\x00\x00\x08\x08\x00\x00\x00\x00\xe1\x64\xe1\x57\x00\x00\x00\x16\x49\x44\x41\x54\x78\xda\x63\x64\x60\x60\x60\xd0\x60\x60\x60\x60\x62\x80\x02\xf2\x18\x00\x0d\x00\x00\x38\x86\x94\xae\x91\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82'
light='\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x08\x00\x00\x00\x08\x08\x00\x00\x00\x00\xe1\x64\xe1\x57\x00\x00\x00\x15\x49\x44\x41\x54\x78\xda\x63\xfc\xcf\x00\x01\x4c\x0c\x38\x19\x2c\x37\x08\xab\x01\x00\x67\x11\x01\xe9\xf5\xfb\x3b\x90\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82'
# folder <root> <class:png>...: train/ and valid/ with four copies of each class's image
folder() {
    local root=$1 spec name png s i; shift
    for spec in "$@"; do
        name=${spec%%:*}; png=${spec#*:}
        for s in train valid; do
            mkdir -p "$root/$s/$name"
            for i in 1 2 3 4; do printf "${!png}" > "$root/$s/$name/$i.png"; done
        done
    done
}
folder two "dark:dark" "light:light"
folder one "only:dark"
folder esc "b:light" "e${ESC}vil:dark"
"$cgrad" show two/train/dark/1.png --no-color > /dev/null || bad "the hand-made PNG does not read"
T=(train --data two --model linear --threads 1) # a train run on the two-class folder

echo "== numeric flags: strict, with ranges"
check 2 "show: --index: 'abc' is not an integer; expected 0..2147483647" show two --index abc
check 2 "show: --scale: '99999999999' is out of range; expected 1..64" show two --scale 99999999999
check 2 "show: --count: '0' is out of range; expected 1..1024" show two --count 0
check 2 "show: --channels: '2' is not 0, 1 or 3" show two --channels 2
check 2 "show: --table C1: '2x' is not an integer; expected 0..65536" show two --table 4:15,4:2x
check 2 "train: --bs: '9223372036854775807' is out of range; expected 1..1000000" "${T[@]}" --bs 9223372036854775807
check 2 "train: --bs: '1e3' is not an integer" "${T[@]}" --bs 1e3
check 2 "train: --epochs: '0' is out of range; expected 1..100000" "${T[@]}" --epochs 0
check 2 "train: --epochs: ' 5' is not an integer" "${T[@]}" --epochs " 5"
check 2 "train: --lr: '-1' is out of range; expected > 0" "${T[@]}" --lr -1
check 2 "train: --lr: '0' is out of range; expected > 0" "${T[@]}" --lr 0
check 2 "train: --lr: 'nan' is not a finite decimal number; expected > 0" "${T[@]}" --lr nan
check 2 "train: --lr: 'inf' is not a finite decimal number; expected > 0" "${T[@]}" --lr inf
check 2 "train: --lr: '1e999' is out of range; expected > 0" "${T[@]}" --lr 1e999
check 2 "train: --wd: '-1' is out of range; expected >= 0" "${T[@]}" --wd -1
check 2 "train: --threads: '0' is out of range; expected 1..1024" "${T[@]}" --threads 0
check 2 "train: --seed: '-1' is out of range; expected >= 0" "${T[@]}" --seed -1
check 2 "train: --model mlp:HIDDEN: '0' is out of range; expected 1..100000" "${T[@]}" --model mlp:0
check 2 "train: --model mlp:HIDDEN: 'x' is not an integer" "${T[@]}" --model mlp:x
check 2 "lr-find: --bs: 'abc' is not an integer" lr-find --data two --model linear --bs abc
check 2 "pixel-similarity: --digits must be 2 or 10, got '5'" pixel-similarity --digits 5
# a PNG past the size cap is refused before drawing (the 3 GB canvas of issue 7):
# a 9-image grid at scale 64 (about 1600x1600) shown again at scale 64
check 0 "saved $tmp/grid.png" show two --count 8 --scale 64 --png "$tmp/grid.png"
check 1 "Mpixel PNG; the cap is 64 (use a smaller --scale or --count)" \
    show "$tmp/grid.png" --scale 64 --png "$tmp/huge.png"
grep -Eq "show: 1 image of [0-9]{4}x[0-9]{4} at --scale 64 makes a [0-9]{4,} Mpixel PNG" <<<"$out" \
    || bad "the size cap message does not give the size: $out"
[ -e "$tmp/huge.png" ] && bad "the PNG past the cap was written"
# the ranges are in the help texts
check 0 "--epochs N        epochs, 1..100000" train --help
check 0 "--bs N            batch size, 1..1000000" train --help
check 0 "--threads N       OpenMP/OpenBLAS threads, 1..1024" lr-find --help
check 0 "--scale S      size of a pixel in the PNG, 1..64" show --help
# any positive finite --lr trains; --name=value is --name value
check 0 "saved $tmp/tiny.safetensors" "${T[@]}" --lr 1e-30 --epochs=1 --save "$tmp/tiny.safetensors"

echo "== usage errors name the flag; -- ends the options; --version"
check 2 "train: unknown option '--bogus'" train --bogus
check 2 "train: unknown option '--bogus'" train --bogus value
check 2 "train: --epochs needs a value" train --epochs
check 2 "lr-find: unknown option '--save'" lr-find --data two --model linear --save x
check 2 "show: unknown option '--bogus'" show --bogus two
check 2 "predict: unknown option '--bogus'" predict --bogus
check 2 "data: unknown option '--bogus'" data --bogus list
check 2 "pixel-similarity: unknown option '--bogus'" pixel-similarity --bogus
check 2 "train: unexpected argument '--json' (train takes options only)" train -- --json
check 2 "--probs takes no value" predict --probs=1 --model m x.png
ver=$("$cgrad" version)
check 0 "$ver" --version
check 0 "$ver" -V
[[ $ver =~ ^cgrad\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || bad "cgrad version printed '$ver'"
cp two/valid/dark/1.png ./-weird.png
check 0 "dark	" predict --model "$tmp/tiny.safetensors" -- -weird.png
check 2 "predict: unknown option '-weird.png'" predict --model "$tmp/tiny.safetensors" -weird.png
out=$("$cgrad" show --no-color -- -weird.png 2>&1) && [[ $out == -weird.png* ]] || bad "show -- -weird.png: $out"
check 1 "unknown dataset '--force'" data get --quiet -- --force

echo "== names from files are escaped"
"$cgrad" train --data esc --model linear --threads 1 --epochs 2 --save "$tmp/esc.safetensors" > /dev/null 2>&1 \
    || bad "train on the folder with an ESC in a class name failed"
check 0 'e\x1Bvil=' predict --probs --model "$tmp/esc.safetensors" "esc/valid/e${ESC}vil/1.png"
check 0 "esc/valid/e\\x1Bvil/1.png" predict --model "$tmp/esc.safetensors" "esc/valid/e${ESC}vil/1.png"
# classes are stored as a JSON array (any name round-trips); ESC is \u001b in it
check 0 'classes: ["b","e\u001bvil"]' predict --info --model "$tmp/esc.safetensors"
check 0 'e\x1Bvil' show esc --index 4 --no-color
check 1 "cgrad: png: nowhere/e\\x1B[2Jx.png" show "nowhere/e${ESC}[2Jx.png"
for args in "predict --probs --model $tmp/esc.safetensors esc/valid/e${ESC}vil/1.png" \
            "predict --info --model $tmp/esc.safetensors" "show esc --index 4 --no-color"; do
    # shellcheck disable=SC2086
    if "$cgrad" $args 2>&1 | grep -q "$ESC"; then bad "cgrad $args printed a raw ESC byte"; fi
done

echo "== outputs checked before training"
# each refusal: the message, "nothing was trained", no results table, no model
refused() { # refused <exit code> <text> <train args...>
    local code=$1 text=$2; shift 2
    rm -f "$tmp/m.safetensors"
    check "$code" "$text" "${T[@]}" --epochs 1 --save "$tmp/m.safetensors" "$@"
    grep -q "nothing was trained" <<<"$out" || bad "train $*: no 'nothing was trained' ($out)"
    grep -q "^epoch " <<<"$out" && bad "train $*: trained anyway ($out)"
    [ -e "$tmp/m.safetensors" ] && bad "train $*: a model was written"
}
refused 2 "--csv $tmp/out_loss.png and --plot $tmp/out ($tmp/out_loss.png) name the same file" \
    --csv "$tmp/out_loss.png" --plot "$tmp/out"
refused 2 "--save $tmp/m.safetensors and --csv ./m.safetensors name the same file" --csv ./m.safetensors
refused 2 "--csv $tmp/out_accuracy.png and --plot out (out_accuracy.png) name the same file" \
    --plot out --csv "$tmp/out_accuracy.png"
refused 1 "--csv $tmp/missing/log.csv: the folder $tmp/missing does not exist" --csv "$tmp/missing/log.csv"
check 1 "--save $tmp/missing/m.safetensors: the folder $tmp/missing does not exist; nothing was trained" \
    "${T[@]}" --save "$tmp/missing/m.safetensors"
touch "$tmp/plain"
refused 1 "--plot $tmp/plain/p ($tmp/plain/p_loss.png): $tmp/plain is not a folder" --plot "$tmp/plain/p"
mkdir "$tmp/p_accuracy.png"
refused 1 "--plot $tmp/p ($tmp/p_accuracy.png): exists and is a folder, not a regular file" --plot "$tmp/p"
refused 1 "--csv $tmp/: names a folder, not a file" --csv "$tmp/"
check 1 "lr-find: --plot $tmp/missing/lr.png: the folder $tmp/missing does not exist; nothing was run" \
    lr-find --data two --model linear --plot "$tmp/missing/lr.png"

echo "== a side output that fails after training keeps the model"
# A file-size limit (which binds root too) of 2 KiB: the model (under 1 KiB)
# fits, the loss plot (over 10 KiB) does not, and the CSV outgrows it after
# about 50 epochs.  SIGXFSZ is ignored so that write() fails with EFBIG.
late() { (ulimit -f 2; trap '' XFSZ; exec "$cgrad" train --data two --model linear --threads 1 \
             --save "$tmp/kept.safetensors" "$@") 2>&1; }
rm -f "$tmp/kept.safetensors"
out=$(late --epochs 3 --plot "$tmp/late"); rc=$?
[ $rc -eq 1 ] || bad "a failed plot exited $rc, expected 1: $out"
# (the plot is written by cairo's PNG stream into cg_atomic_write, whose message says how far it got)
grep -qE "cgrad: train: --plot $tmp/late failed: $tmp/late_loss.png: write failed( after [0-9]+ bytes)?: File too large; the model was saved to $tmp/kept.safetensors" <<<"$out" \
    || bad "no plot failure message: $out"
grep -qF "saved $tmp/kept.safetensors" <<<"$out" || bad "the model was not reported saved: $out"
check 0 "light	" predict --model "$tmp/kept.safetensors" two/valid/light/1.png
rm -f "$tmp/kept.safetensors"
out=$(late --epochs 80 --csv "$tmp/late.csv"); rc=$?
[ $rc -eq 1 ] || bad "a failed CSV exited $rc, expected 1: $out"
grep -qF "cgrad: train: --csv $tmp/late.csv failed, the log stopped there: $tmp/late.csv: write failed: File too large; the model was saved to $tmp/kept.safetensors" <<<"$out" \
    || bad "no CSV failure message: $out"
grep -q "^79 " <<<"$out" || bad "training stopped before epoch 79 when the CSV failed: $out"
check 0 "epochs: 80" predict --info --model "$tmp/kept.safetensors"
[ "$(head -1 "$tmp/late.csv")" = "epoch,train_loss,valid_loss,accuracy,time" ] || bad "the CSV lost its header"
[ "$(wc -c < "$tmp/late.csv")" -le 2048 ] || bad "the CSV is larger than the limit"

echo "== fewer than two classes"
rm -f "$tmp/m.safetensors"
check 1 "train: the training data of one has 1 class (only); a classifier needs at least 2" \
    train --data one --model linear --save "$tmp/m.safetensors"
grep -q "^epoch " <<<"$out" && bad "one class: trained anyway"
[ -e "$tmp/m.safetensors" ] && bad "one class: a model was written"
check 1 "the training data of one has 1 class (only)" lr-find --data one --model linear

[ $fail -eq 0 ] && echo "all hardening checks passed"
exit $fail
