#!/usr/bin/env bash
# One command line (issue 10): the conventions every subcommand keeps.
#   - --help exits 0 with the usage on stdout (and nothing on stderr); --version prints
#     the version; an unknown flag exits 2 with one line on stderr and nothing on stdout;
#   - --flag=value is --flag value;
#   - results on stdout, progress on stderr: a piped `cgrad train` has only the results
#     table on stdout, the bars' plain lines on stderr, and on a terminal (script(1)) the
#     two bars are redrawn there while stdout still holds the table alone;
#   - --out DIR writes the files each usage text names; --quiet leaves stderr empty;
#   - a runtime error exits 1 with one line.
# The data is made here (8x8 gray PNGs written with printf, as hardening.sh), but for
# pixel-similarity, which reads MNIST_SAMPLE through CGRAD_MIRROR like the other tests.
# Usage: conventions.sh /path/to/cgrad
set -u -o pipefail
cgrad=${1:?usage: conventions.sh /path/to/cgrad}
case "$cgrad" in /*) ;; *) cgrad="$PWD/$cgrad" ;; esac
tmp=$(mktemp -d "${CGRAD_BINARY_DIR:-/tmp}/cli_conventions.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fail=0
# under LeakSanitizer, its report of the suppressions it used would be on stderr too (leaks still fail)
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}print_suppressions=0"
bad() { echo "FAIL: $*"; fail=1; }
ok() { echo "ok: $*"; }

dark='\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x08\x00\x00\x00\x08\x08\x00\x00\x00\x00\xe1\x64\xe1\x57\x00\x00\x00\x16\x49\x44\x41\x54\x78\xda\x63\x64\x60\x60\x60\xd0\x60\x60\x60\x60\x62\x80\x02\xf2\x18\x00\x0d\x00\x00\x38\x86\x94\xae\x91\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82'
light='\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x08\x00\x00\x00\x08\x08\x00\x00\x00\x00\xe1\x64\xe1\x57\x00\x00\x00\x15\x49\x44\x41\x54\x78\xda\x63\xfc\xcf\x00\x01\x4c\x0c\x38\x19\x2c\x37\x08\xab\x01\x00\x67\x11\x01\xe9\xf5\xfb\x3b\x90\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82'
for s in train valid; do
    for c in dark light; do
        mkdir -p "two/$s/$c"
        for i in 1 2 3 4 5 6; do printf "${!c}" > "two/$s/$c/$i.png"; done
    done
done
is_png() { [ "$(head -c 8 "$1" 2> /dev/null | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; }
lines() { if [ -s "$1" ]; then wc -l < "$1"; else echo 0; fi; }

# run <name> <args...>: stdout in <name>.out, stderr in <name>.err, exit status in $rc
run() { local name=$1; shift; "$cgrad" "$@" > "$name.out" 2> "$name.err"; rc=$?; }

T=(train --data two --model linear --epochs 2 --lr 0.5 --bs 4 --threads 1 --seed 1)
run model "${T[@]}" --out m || bad "the first train run exited $rc: $(cat model.err)"
[ -s m/model.safetensors ] || bad "no m/model.safetensors to predict and evaluate with"

echo "== --help, --version, an unknown flag: every subcommand"
commands=(version data show pixel-similarity predict eval train lr-find chapter4)
ver=$("$cgrad" --version)
[[ $ver =~ ^cgrad\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || bad "cgrad --version printed '$ver'"
for c in "${commands[@]}"; do
    run help "$c" --help
    if [ "$rc" = 0 ] && grep -q "^usage: cgrad $c" help.out && [ ! -s help.err ]; then ok "$c --help"
    else bad "$c --help: exit $rc, stdout '$(head -1 help.out)', stderr '$(head -1 help.err)'"; fi
    run v "$c" --version
    [ "$rc" = 0 ] && [ "$(cat v.out)" = "$ver" ] && ok "$c --version" || bad "$c --version: exit $rc, '$(cat v.out)'"
    run unk "$c" --no-such-flag
    if [ "$rc" = 2 ] && [ "$(lines unk.err)" = 1 ] && [ ! -s unk.out ] && grep -q "unknown option '--no-such-flag'" unk.err
    then ok "$c --no-such-flag: exit 2, one line"
    else bad "$c --no-such-flag: exit $rc, stderr $(lines unk.err) lines: $(head -3 unk.err), stdout: $(head -1 unk.out)"; fi
done
run none; [ "$rc" = 2 ] && [ "$(lines none.err)" = 1 ] || bad "cgrad alone: exit $rc, $(lines none.err) lines"
run nocmd frobnicate; [ "$rc" = 2 ] && [ "$(lines nocmd.err)" = 1 ] || bad "cgrad frobnicate: exit $rc, $(lines nocmd.err) lines"
# a bad value is a usage error too, in one line, for the shared flags of each command that has them
for c in show pixel-similarity eval train lr-find chapter4; do
    run badt "$c" --threads=0
    [ "$rc" = 2 ] && [ "$(lines badt.err)" = 1 ] && grep -q -- "--threads" badt.err && ok "$c --threads=0: exit 2" \
        || bad "$c --threads=0: exit $rc: $(head -2 badt.err)"
done

echo "== --flag=value is --flag value"
run eq train --data=two --model=linear --epochs=2 --lr=0.5 --bs=4 --threads=1 --seed=1
[ "$rc" = 0 ] && [ "$(cat eq.out)" = "$(cat model.out)" ] && ok "train --flag=value: the same table" \
    || bad "train --flag=value: exit $rc, table differs: $(cat eq.out) vs $(cat model.out)"
strip_time() { sed -E 's/[0-9]{2}:[0-9]{2}$//' "$1"; }
run lr1 lr-find --data two --model linear --bs 2 --threads 1 --json
run lr2 lr-find --data=two --model=linear --bs=2 --threads=1 --json
[ "$rc" = 0 ] && [ -s lr1.out ] && cmp -s lr1.out lr2.out && ok "lr-find --flag=value: the same sweep" || bad "lr-find --flag=value: exit $rc"
run p1 predict --model m/model.safetensors two/valid/dark/1.png
run p2 predict --model=m/model.safetensors two/valid/dark/1.png
[ "$rc" = 0 ] && [ -s p1.out ] && cmp -s p1.out p2.out && ok "predict --model=FILE" || bad "predict --model=FILE: exit $rc $(cat p2.err)"
run s1 show two/train/dark/1.png --no-color --index=0
[ "$rc" = 0 ] && [ -s s1.out ] && ok "show --index=0" || bad "show --index=0: exit $rc $(cat s1.err)"
run e1 eval --model=m/model.safetensors --data=two --k=2 --out=ev --threads=1
[ "$rc" = 0 ] && grep -q "^accuracy " e1.out && ok "eval --flag=value" || bad "eval --flag=value: exit $rc $(cat e1.err)"
run px1 pixel-similarity --digits=2 --json --quiet
run px2 pixel-similarity --digits 2 --json --quiet
[ "$rc" = 0 ] && [ -s px1.out ] && cmp -s px1.out px2.out && ok "pixel-similarity --digits=2" || bad "pixel-similarity --digits=2: exit $rc $(cat px1.err)"
printf x > afile
run c4 chapter4 --out=afile --quick
[ "$rc" = 1 ] && [ "$(lines c4.err)" = 1 ] && grep -qF "afile: exists and is not a directory" c4.err && [ ! -s c4.out ] \
    && ok "chapter4 --out=FILE: the value reached --out (exit 1, one line, nothing run)" || bad "chapter4 --out=afile: exit $rc: $(cat c4.err)"
run d1 data list --home="$tmp/home"
[ "$rc" = 0 ] && grep -qF "no datasets cached in $tmp/home/data" d1.out && ok "data list --home=DIR" \
    || bad "data list --home=DIR: exit $rc: $(cat d1.out d1.err)"

echo "== results on stdout, progress on stderr"
# piped: stdout is the table alone, a header and one row per epoch
want="^(epoch  train_loss  valid_loss  accuracy  time|[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9]{2}:[0-9]{2})$"
[ "$(lines model.out)" = 3 ] && ! grep -Evq "$want" model.out && ok "train's stdout: the table, 3 lines" \
    || bad "train's stdout is not the table alone: $(cat -v model.out)"
grep -q "^epoch 2/2 done 100% " model.err && ok "train's stderr: the epoch lines" || bad "train's stderr: $(cat -v model.err)"
grep -q $'\033' model.err model.out && bad "escape sequences in a piped run"
grep -qF "saved m/model.safetensors" model.err || bad "no 'saved' line on stderr: $(cat model.err)"
run j "${T[@]}" --json
[ "$rc" = 0 ] && [ "$(lines j.out)" = 3 ] && ! grep -qv '^{' j.out && grep -q "^epoch  train_loss" j.err \
    && ok "train --json: JSON lines on stdout, the table on stderr" || bad "train --json: $(cat j.out)"
[ "$(lines lr1.out)" = 1 ] && grep -q '^{"valley": ' lr1.out && ok "lr-find's stdout: the result alone" || bad "lr-find stdout: $(cat lr1.out)"
# on a terminal: the bars go to it, redrawn in place; stdout still holds the table alone
if command -v script > /dev/null; then
    script -qec "$(printf '%q ' "$cgrad" "${T[@]}") > tty.out" tty.log > /dev/null 2>&1
    if [ "$(lines tty.out)" = 3 ] && ! grep -Evq "$want" tty.out; then ok "on a terminal, stdout is still the table"
    else bad "on a terminal, stdout: $(cat -v tty.out)"; fi
    grep -qF "epoch 2/2 [####################] 100%" tty.log && grep -q $'\033\\[1A' tty.log \
        && grep -qE "train \[#+-*\] +[0-9]+% [0-9]+/[0-9]+ [0-9]{2}:[0-9]{2}<[0-9]{2}:[0-9]{2} loss [0-9.]+" tty.log \
        && ok "on a terminal: the epoch bar and the batch bar, redrawn" || bad "no live bars on the terminal: $(cat -v tty.log | head -5)"
else
    echo "skip: no script(1) to give cgrad a terminal"
fi

echo "== --out DIR writes the documented files; --quiet leaves stderr empty"
for f in model.safetensors history.csv loss.png metric.png; do
    [ -s "m/$f" ] || bad "train --out m: no m/$f"
    "$cgrad" train --help | grep -F "DIR/$f" > /dev/null || bad "train --help does not name DIR/$f"
done
is_png m/loss.png && is_png m/metric.png && ok "train --out: model, history.csv, loss.png, metric.png" || bad "train's plots are not PNGs"
[ "$(head -1 m/history.csv)" = "epoch,train_loss,valid_loss,accuracy,time" ] || bad "m/history.csv: $(head -1 m/history.csv)"
run q "${T[@]}" --out mq --checkpoints --quiet
[ "$rc" = 0 ] && [ ! -s q.err ] && [ "$(lines q.out)" = 3 ] && ok "train --quiet: nothing on stderr, the table on stdout" \
    || bad "train --quiet: exit $rc, stderr: $(cat -v q.err)"
[ -s mq/checkpoints/epoch-1.safetensors ] && [ "$(cat mq/checkpoints/last)" = epoch-1.safetensors ] \
    && ok "--checkpoints: DIR/checkpoints/epoch-E.safetensors and last" || bad "no checkpoints in mq/checkpoints: $(ls -R mq)"
run r "${T[@]}" --resume mq --quiet
[ "$rc" = 0 ] && ok "--resume DIR takes the --out folder of a run with --checkpoints" || bad "--resume mq: exit $rc: $(cat r.err)"
run cp "${T[@]}" --checkpoints
[ "$rc" = 2 ] && grep -q -- "--out DIR" cp.err || bad "--checkpoints without --out: exit $rc: $(cat cp.err)"
run lq lr-find --data two --model linear --bs 2 --threads 1 --out lr --quiet
[ "$rc" = 0 ] && [ ! -s lq.err ] && is_png lr/lr_find.png && grep -q "^SuggestedLRs(valley=" lq.out \
    && ok "lr-find --out: DIR/lr_find.png; --quiet" || bad "lr-find --out lr --quiet: exit $rc, $(cat lq.err)"
"$cgrad" lr-find --help | grep -F "DIR/lr_find.png" > /dev/null || bad "lr-find --help does not name DIR/lr_find.png"
for f in confusion.png top_losses.png; do is_png "ev/$f" || bad "eval --out ev: no ev/$f"; done
grep -qF "saved ev/confusion.png" e1.err && ! grep -q "^saved" e1.out && ok "eval --out: DIR/confusion.png and DIR/top_losses.png, said on stderr" \
    || bad "eval: 'saved' lines: $(cat e1.err)"
run sq show two/train/dark/1.png --out sh --quiet
[ "$rc" = 0 ] && [ ! -s sq.err ] && [ ! -s sq.out ] && is_png sh/image.png && ok "show --out: DIR/image.png; --quiet" || bad "show --out sh: exit $rc"
run sb show two --count 4 --out sh
[ "$rc" = 0 ] && is_png sh/batch.png && grep -qF "saved sh/batch.png" sb.err && ok "show --count 4 --out: DIR/batch.png" || bad "show --count 4 --out sh: exit $rc $(cat sb.err)"
"$cgrad" show --help | grep -F "DIR/batch.png" > /dev/null || bad "show --help does not name DIR/batch.png"
run ps pixel-similarity --out ps --quiet
[ "$rc" = 0 ] && [ ! -s ps.err ] && grep -q "^accuracy_3s" ps.out || bad "pixel-similarity --out ps --quiet: exit $rc: $(cat ps.err)"
for f in mean3 mean7 a_3; do is_png "ps/$f.png" || bad "pixel-similarity --out ps: no ps/$f.png"; done
"$cgrad" pixel-similarity --help | grep -F "DIR/mean3.png" > /dev/null || bad "pixel-similarity --help does not name DIR/mean3.png"
run pj predict --model m/model.safetensors --json two/valid/light/1.png
[ "$rc" = 0 ] && grep -qE '^\{"path": "two/valid/light/1.png", "class": "light", "label": 1, "probability": [0-9.e-]+, "probs": \{"dark": [0-9.e-]+, "light": [0-9.e-]+\}\}$' pj.out \
    && ok "predict --json" || bad "predict --json: $(cat pj.out pj.err)"
if command -v /usr/bin/python3 > /dev/null; then
    /usr/bin/python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read()); assert abs(sum(d["probs"].values())-1) < 1e-6' pj.out \
        || bad "predict --json does not parse, or its probabilities do not sum to 1"
fi
# predict on a folder: every image under it, sorted, each as predicted on its own; on an IDX
# file: each image, as the same pixels predicted from a PNG (dark: 0 | 40 halves, light:
# 255 over 215), named FILE[i]
run pf predict --model m/model.safetensors --probs two/valid
(cd two/valid && ls */*.png) | sed 's|^|two/valid/|' > pf.list
run pe predict --model m/model.safetensors --probs $(cat pf.list)
[ "$rc" = 0 ] && [ "$(lines pf.out)" = 12 ] && cmp -s pf.out pe.out && [ "$(cut -f3 pf.out)" = "$(cat pf.list)" ] \
    && ok "predict FOLDER: its 12 images, sorted, as predicted one by one" || bad "predict FOLDER: exit $rc: $(cat pf.out pf.err)"
{ printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x08\x00\x00\x00\x08'
  for r in 1 2 3 4 5 6 7 8; do printf '\x00\x00\x00\x00\x28\x28\x28\x28'; done
  head -c 32 /dev/zero | tr '\0' '\377'; head -c 32 /dev/zero | tr '\0' '\327'; } > two.idx
run pi predict --model m/model.safetensors --probs two.idx
run pp predict --model m/model.safetensors --probs two/valid/dark/1.png two/valid/light/1.png
[ "$rc" = 0 ] && [ "$(cut -f1,2,4 pi.out)" = "$(cut -f1,2,4 pp.out)" ] && [ "$(cut -f3 pi.out | tr '\n' ' ')" = "two.idx[0] two.idx[1] " ] \
    && ok "predict IDX: each image named FILE[i], as its PNG twin predicts" || bad "predict IDX: $(cat pi.out pi.err) vs $(cat pp.out)"
run pij predict --model m/model.safetensors --json two.idx
[ "$rc" = 0 ] && grep -qE '^\{"path": "two.idx", "item": 1, "class": "light", ' pij.out || bad "predict --json IDX: $(cat pij.out)"
run ej eval --model m/model.safetensors --data two --k 2 --out ev --json --quiet
[ "$rc" = 0 ] && [ "$(lines ej.out)" = 1 ] && [ ! -s ej.err ] && grep -q '^{"model": "m/model.safetensors", "data": "two", "items": 12, ' ej.out \
    && ok "eval --json: one object" || bad "eval --json: exit $rc: $(cat ej.out ej.err)"
if command -v /usr/bin/python3 > /dev/null; then
    text_acc=$(awk '/^accuracy /{print $2}' e1.out)
    /usr/bin/python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read()); assert "%.6f" % d["accuracy"] == sys.argv[2], d; assert sum(map(sum, d["confusion"])) == d["items"]; assert len(d["top_losses"]) == 2' ej.out "$text_acc" \
        || bad "eval --json does not parse or disagrees with the text ($text_acc)"
fi
# --json where a command has results: pixel-similarity, show and data list too (one object or
# array on stdout, nothing else there), their values the text's
py=/usr/bin/python3; command -v "$py" > /dev/null || py=""
run psj pixel-similarity --json --quiet
[ "$rc" = 0 ] && [ "$(lines psj.out)" = 1 ] && [ ! -s psj.err ] \
    && grep -qE '"train3": 6131, "train7": 6265, "valid3": 1010, "valid7": 1028,' psj.out \
    && grep -qE '"right_3s": 926, "right_7s": 1013\}$' psj.out && ok "pixel-similarity --json: one object, the chapter's counts" \
    || bad "pixel-similarity --json: exit $rc: $(cat psj.out psj.err)"
[ -z "$py" ] || "$py" -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert abs(d["accuracy_3s"] - 926/1010) < 1e-6 and abs(d["accuracy_7s"] - 1013/1028) < 1e-6, d
assert abs(d["average"] - 0.9511) < 5e-5 and abs(d["dist_3_abs"] - 0.1114) < 5e-5 and abs(d["dist_7_sqr"] - 0.3021) < 5e-5, d
assert d["a_3"] == "10000.png" and d["path"].endswith("mnist_sample"), d' psj.out || bad "pixel-similarity --json's values: $(cat psj.out)"
run psjs pixel-similarity --json --show
[ "$rc" = 2 ] && [ "$(lines psjs.err)" = 1 ] && [ ! -s psjs.out ] || bad "pixel-similarity --json --show: exit $rc: $(cat psjs.err)"
run shj show two/train/dark/1.png --table 0:2,0:8 --json
[ "$rc" = 0 ] && [ "$(lines shj.out)" = 1 ] \
    && grep -qF '"table": {"rows": [0, 2], "cols": [0, 8], "values": [[0, 0, 0, 0, 40, 40, 40, 40], [0, 0, 0, 0, 40, 40, 40, 40]]}}' shj.out \
    && grep -qF '"images": [{"title": "1.png", "file": "two/train/dark/1.png", "shape": [8, 8]}], "png": null' shj.out \
    && ok "show --table --json: the dark PNG's halves, 0 and 40" || bad "show --table --json: exit $rc: $(cat shj.out shj.err)"
run shb show two --count 4 --json --out shj --quiet
[ "$rc" = 0 ] && is_png shj/batch.png && grep -qF '"png": "shj/batch.png"' shb.out && [ ! -s shb.err ] \
    && [ "$(grep -o '"file": "two/train/[a-z]*/[1-6].png"' shb.out | wc -l)" = 4 ] \
    && ok "show --count 4 --json --out: the four files picked and the PNG" || bad "show --json --out: exit $rc: $(cat shb.out shb.err)"
# show_batch: without --index a seeded random, mixed-class batch; the same seed, the same batch
files_of() { grep -o '"file": "[^"]*"' "$1" | tr '\n' ' '; }
run sr1 show two --count 4 --json --seed 42; run sr2 show two --count 4 --json --seed 42
run si show two --count 4 --json --index 0
[ "$rc" = 0 ] && [ "$(files_of sr1.out)" = "$(files_of sr2.out)" ] && grep -q '/dark/' sr1.out && grep -q '/light/' sr1.out \
    && [ "$(files_of si.out)" = '"file": "two/train/dark/1.png" "file": "two/train/dark/2.png" "file": "two/train/dark/3.png" "file": "two/train/dark/4.png" ' ] \
    && ok "show --count 4: a seeded mixed batch ($(files_of sr1.out | tr -d '"' | sed 's/file: //g')); --index 0: the first four in order" \
    || bad "show's batch: $(files_of sr1.out) / $(files_of sr2.out) / $(files_of si.out)"
run dlj data list --json --home "$tmp/home"
[ "$rc" = 0 ] && [ "$(cat dlj.out)" = "[]" ] && ok "data list --json on an empty cache: []" || bad "data list --json (empty): $(cat dlj.out dlj.err)"
if [ -n "${CGRAD_MIRROR:-}" ]; then
    run dgj data get mnist_sample --json --quiet --home "$tmp/hj"
    [ "$rc" = 0 ] && [ "$(cat dgj.out)" = "{\"name\": \"mnist_sample\", \"path\": \"$tmp/hj/data/mnist_sample\"}" ] \
        && ok "data get --json" || bad "data get --json: exit $rc: $(cat dgj.out dgj.err)"
    run dlj data list --json --home "$tmp/hj"
    [ "$rc" = 0 ] && grep -qE "^\[\{\"name\": \"mnist_sample\", \"bytes\": [0-9]+, \"files\": 14435, \"path\": \"$tmp/hj/data/mnist_sample\"\}\]$" dlj.out \
        && ok "data list --json: mnist_sample's 14435 files" || bad "data list --json: $(cat dlj.out dlj.err)"
    run dkj data list --known --json --home "$tmp/hj"
    [ "$rc" = 0 ] && grep -qF '{"name": "mnist_sample", "cached": true, ' dkj.out && grep -qF '{"name": "mnist", "cached": false, ' dkj.out \
        && ok "data list --known --json: cached true/false" || bad "data list --known --json: $(cat dkj.out)"
    [ -z "$py" ] || "$py" -c 'import json,sys; json.load(open(sys.argv[1])); json.load(open(sys.argv[2]))' dlj.out dkj.out || bad "data list --json does not parse"
fi

# --out under a file: refused before any training, in one line
printf x > plain
run pl "${T[@]}" --out plain/run
[ "$rc" = 1 ] && [ "$(lines pl.err)" = 1 ] && [ ! -s pl.out ] && grep -q "nothing was trained" pl.err \
    && ok "--out under a file: exit 1, one line, nothing trained" || bad "--out plain/run: exit $rc: $(cat pl.out pl.err)"

echo "== --mirror and --home reach the data every command reads"
if [ -n "${CGRAD_MIRROR:-}" ]; then
    mirror=$CGRAD_MIRROR
    env -u CGRAD_MIRROR -u CGRAD_HOME "$cgrad" train --data mnist_sample --model linear --epochs 1 --lr 1 --threads 1 \
        --mirror "$mirror" --home "$tmp/h" --quiet > h.out 2> h.err; rc=$?
    [ "$rc" = 0 ] && [ "$(lines h.out)" = 2 ] && [ -d "$tmp/h/data/mnist_sample/train/3" ] \
        && ok "train --mirror M --home DIR: the data went to DIR" || bad "train --mirror --home: exit $rc: $(cat h.err)"
    env -u CGRAD_MIRROR -u CGRAD_HOME "$cgrad" show mnist_sample --home "$tmp/h" --mirror "" --count 4 --out sh2 --quiet > /dev/null 2>&1 \
        && is_png sh2/batch.png && ok "show DATASET --home DIR: the cached copy" || bad "show mnist_sample --home: failed"
    env -u CGRAD_MIRROR -u CGRAD_HOME "$cgrad" pixel-similarity --home "$tmp/h" --mirror "" --json --quiet > hp.out 2> hp.err \
        && grep -qF "\"path\": \"$tmp/h/data/mnist_sample\"" hp.out && ok "pixel-similarity --home DIR: reads DIR's copy" \
        || bad "pixel-similarity --home: $(cat hp.out hp.err)"
else
    echo "skip: no CGRAD_MIRROR to copy from"
fi

echo "== runtime errors: exit 1, one line"
run e predict --model missing.safetensors x.png
[ "$rc" = 1 ] && [ "$(lines e.err)" = 1 ] || bad "predict a missing model: exit $rc, $(lines e.err) lines"
run e2 train --data nowhere --model linear --quiet
[ "$rc" = 1 ] && [ "$(lines e2.err)" = 1 ] && ok "train on a missing folder: exit 1, one line" || bad "train --data nowhere: exit $rc: $(cat e2.err)"

[ "$fail" = 0 ] && echo "conventions: all ok"
exit "$fail"
