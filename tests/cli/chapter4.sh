#!/usr/bin/env bash
# cgrad chapter4 --quick, run as a user runs it, then its report opened from
# disk in a real browser (headless Chromium):
#   - stdout carries the book's exact numbers (pixel similarity, the gradients)
#     and the seeded runs' numbers the examples and `cgrad train` print for the
#     same calls (PyTorch 1.13 gives the same after torch.manual_seed(42));
#   - OUT/index.html is one file: every picture a data: URI, no src/href to
#     anything outside it, every heading of the ten steps present;
#   - Chromium loads it and the page's own check (every <img> decoded with a
#     width, every <svg> drawn, no resource fetched from outside) says ok.
# Exit 77 (CTest: skipped) only when no Chromium is installed: CI gets it from
# scripts/install-deps.sh, so there it always runs.
# Usage (CTest): bash chapter4.sh <path-to-cgrad>, with CGRAD_MIRROR and CGRAD_HOME set.
set -u
cgrad="$1"
fail=0
tmp=$(mktemp -d /tmp/cgrad-cli-chapter4-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
expect() { # expect <what> <literal text that must appear in $out>
  if grep -qF -- "$2" <<<"$out"; then echo "ok: $1"; else echo "FAIL: $1 did not print: $2"; fail=1; fi
}

# ---- the run ------------------------------------------------------------------------
"$cgrad" chapter4 --quick --threads 1 --out "$tmp/report" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
out=$(cat "$tmp/stdout")
if [ $rc -ne 0 ]; then echo "FAIL: chapter4 --quick exited $rc"; cat "$tmp/stderr"; exit 1; fi
echo "ok: chapter4 --quick exited 0"
# the book's numbers, exactly (CHAPTER4.md)
expect "folder sizes" "len(three_tensors),len(seven_tensors): (6131, 6265)"
expect "threes[1]" "im3_path = threes[1]: train/3/10000.png"
expect "pixel table row 3" " 3   0  93 244 249 253 187  46  10   8   4  10 194 253 253 233   0   0   0"
expect "distances to mean3" "dist_3_abs,dist_3_sqr: (tensor(0.1114), tensor(0.2021))"
expect "distances to mean7" "dist_7_abs,dist_7_sqr: (tensor(0.1586), tensor(0.3021))"
expect "pixel similarity" "accuracy_3s,accuracy_7s,(accuracy_3s+accuracy_7s)/2: (tensor(0.9168), tensor(0.9854), tensor(0.9511))"
expect "pixel similarity counts" "(926 of 1010 threes and 1013 of 1028 sevens right)"
expect "f(3.)" "yt = f(xt): tensor(9., grad_fn=<PowBackward0>)"
expect "grad of x**2 at 3" "xt.grad: tensor(6.)"
expect "grad of sum(x**2)" "xt.grad: tensor([ 6.,  8., 20.])"
# seeded (42): examples/sgd_quadratic, linear_from_scratch and basic_optim print the same
expect "the quadratic's first loss" "25823.810546875"
expect "linear1 before training" "validate_epoch(linear1): 0.5476"
expect "linear1 after one epoch" "validate_epoch(linear1): 0.7304"
expect "BasicOptim's first epochs" "with BasicOptim: 0.4932 0.6655 0.855"
# the Learner's simple_net: README's table of `cgrad train --model simple_net` (epoch 0)
expect "simple_net epoch 0" "0      0.350511    0.404969    0.505397"
expect "lr_find ran its 100 steps" "learn.lr_find(): 100 steps, valley"
expect "resnet18 confusion matrix" "interp.confusion_matrix() (rows actual, columns predicted; 64 valid images):"
expect "where the report is" "the report is $tmp/report/index.html"
# --quick's resnet18 reads the chapter's tensors (no files): its top losses are valid-set indices
expect "top losses named" "interp.top_losses(9): item (its index in the valid set), predicted/actual, loss, probability"
tops=$(sed -n '/^interp.top_losses(9)/,/^$/p' <<<"$out" | grep -cE '^  [0-9]+  [37]/[37]  [0-9.]+  [0-9.]+$')
[ "$tops" = 9 ] && echo "ok: nine top losses printed" || { echo "FAIL: $tops top-loss rows"; fail=1; }
# each step says its time and memory on stderr (the peak is what README's --full row quotes)
steps=$(grep -cE '^chapter4: \[([1-9]|10)/10\] done: [0-9.]+ s wall, [0-9.]+ s CPU, [0-9]+ MiB resident \(peak so far [0-9]+ MiB\)$' "$tmp/stderr")
[ "$steps" = 10 ] && echo "ok: ten step lines with time and memory on stderr" || { echo "FAIL: $steps step lines"; fail=1; }

# the Learner's linear table is exactly `cgrad train`'s for the same call
train=$("$cgrad" train --data mnist_sample --model linear --epochs 2 --lr 1 --threads 1 2>/dev/null | grep -E '^[01] ')
if [ -n "$train" ] && grep -qF -- "$(head -1 <<<"$train" | cut -c1-40)" <<<"$out"; then
  echo "ok: the Learner's linear epoch 0 equals cgrad train's"
else echo "FAIL: the Learner's linear table differs from cgrad train's ($train)"; fail=1; fi

# ---- the page, as a file -----------------------------------------------------------------
page="$tmp/report/index.html"
if [ ! -s "$page" ]; then echo "FAIL: no $page"; exit 1; fi
rows=$(grep -o '<table class="cmp"><tr><th>image</th><th>predicted</th><th>actual</th><th>loss</th><th>probability</th></tr>.*' "$page" | head -1)
[ -n "$rows" ] && [ "$(sed -n '/<th>image<\/th><th>predicted/,/<\/table>/p' "$page" | grep -c '^<tr><td>[0-9]*</td><td>[37]</td><td>[37]</td>')" = 9 ] \
  && echo "ok: the report's top-losses table, nine rows" || { echo "FAIL: no top-losses table of nine rows in the report"; fail=1; }
[ "$(ls -A "$tmp/report")" = "index.html" ] && echo "ok: the report folder holds index.html only" ||
  { echo "FAIL: the report folder holds more: $(ls -A "$tmp/report")"; fail=1; }
n_img=$(grep -o '<img ' "$page" | wc -l)
n_data=$(grep -o '<img alt="[^"]*"\( style="[^"]*"\)\? src="data:image/\(png\|svg+xml\);base64,' "$page" | wc -l)
# the figures of the chapter: im3, mean3/mean7/a_3, the SGD loop, x**2, speed, 5 show_preds,
# sigmoid, linear1's accuracies, 2 x (loss, metric), relu, lr_find, resnet's loss and metric,
# the confusion matrix and the top losses
if [ "$n_img" -ge 20 ] && [ "$n_img" -eq "$n_data" ]; then echo "ok: $n_img pictures, all data: URIs"
else echo "FAIL: $n_img <img>, $n_data of them data: URIs (want >= 20, all)"; fail=1; fi
outside=$(grep -oE '(src|href|srcset|poster)="[^"#][^"]*"' "$page" | grep -v '="data:' | head -3)
if [ -z "$outside" ]; then echo "ok: nothing referenced outside the page"
else echo "FAIL: the page refers outside itself: $outside"; fail=1; fi
for alt in "the SGD loop" x2.svg speed.svg preds4.svg sigmoid.svg relu.svg lr_find.svg mean3.png mean7.png \
           simple_net_metric.svg "confusion matrix" "top losses"; do
  grep -qF "alt=\"$alt\"" "$page" || { echo "FAIL: no figure '$alt'"; fail=1; }
done
for k in 1 2 3 4 5 6 7 8 9 10; do
  grep -q "<h2 id=\"step-$k\">$k\. " "$page" || { echo "FAIL: no heading for step $k"; fail=1; }
done
grep -q '<td style="background:#000000;color:#f1f1f1">253</td>' "$page" &&
  echo "ok: the pixel table shades 253 black with light text" || { echo "FAIL: the pixel table's shading"; fail=1; }
# the diagram is Graphviz's layout of the book's gv() call: its SVG names the nodes and the edge label
svg=$(grep -o 'alt="the SGD loop" src="data:image/svg+xml;base64,[^"]*' "$page" | sed 's/.*base64,//' | base64 -d 2>/dev/null)
for w in init predict loss gradient step stop repeat; do
  grep -q ">$w</text>" <<<"$svg" || { echo "FAIL: the SGD loop's SVG has no '$w'"; fail=1; }
done
grep -q "Generated by graphviz" <<<"$svg" && echo "ok: the SGD loop is Graphviz's SVG" ||
  { echo "FAIL: the SGD loop is not Graphviz's"; fail=1; }

# ---- the page, in a browser ----------------------------------------------------------------
browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then browser=$(command -v "$b"); break; fi
done
if [ -z "$browser" ]; then
  echo "SKIP: no Chromium installed (apt-get install chromium; scripts/install-deps.sh does): the browser check did not run"
  [ $fail -eq 0 ] && exit 77
  exit 1
fi
export HOME="$tmp/home" # a profile of its own
mkdir -p "$HOME"
dom=$(timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions \
      --user-data-dir="$tmp/profile" --virtual-time-budget=10000 --dump-dom "file://$page" 2>"$tmp/browser.err")
check=$(grep -o '<p id="cgrad-check" data-status="[a-z]*">[^<]*' <<<"$dom")
if grep -q 'data-status="ok"' <<<"$check"; then echo "ok: $browser: ${check##*>}"
else
  echo "FAIL: $browser's check of the page: ${check:-no verdict}"
  tail -5 "$tmp/browser.err"
  fail=1
fi
shown=$(grep -o 'ok, [0-9]* images' <<<"$check" | grep -o '[0-9]*')
if [ "${shown:-0}" -eq "$n_img" ]; then echo "ok: the browser decoded all $n_img pictures"
else echo "FAIL: the browser saw ${shown:-0} pictures, the page has $n_img"; fail=1; fi

# the check can fail: a picture whose bytes are not an image, and one that names a file beside the page
sed -e '0,/src="data:image\/png;base64,[^"]*"/s//src="data:image\/png;base64,bm90IGEgcG5n"/' \
    -e 's|<p id="cgrad-check"|<img alt="beside" src="missing.png"><p id="cgrad-check"|' "$page" >"$tmp/broken.html"
dom=$(timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions \
      --user-data-dir="$tmp/profile" --virtual-time-budget=10000 --dump-dom "file://$tmp/broken.html" 2>/dev/null)
check=$(grep -o '<p id="cgrad-check" data-status="[a-z]*">[^<]*' <<<"$dom")
if grep -q 'data-status="fail"' <<<"$check" && grep -q 'img beside' <<<"$check" && grep -q 'missing.png' <<<"$check" &&
   grep -q 'img im3.png' <<<"$check"; then echo "ok: a broken page fails the check (${check##*>})"
else echo "FAIL: a broken page passed or said the wrong thing: ${check:-no verdict}"; fail=1; fi

# ---- --quiet: no progress on stderr (under LeakSanitizer its report of the suppressions it used
# would be there: turned off), the same book on stdout and the same numbers --------------------------
LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}print_suppressions=0" \
  "$cgrad" chapter4 --quick --quiet --threads 1 --out "$tmp/quiet" >"$tmp/qout" 2>"$tmp/qerr"; rc=$?
strip() { grep -vE 'the report is|s wall, .* s CPU' "$1" | sed -E 's/[0-9]{2}:[0-9]{2}$//'; }
if [ $rc -eq 0 ] && [ ! -s "$tmp/qerr" ] && [ -s "$tmp/quiet/index.html" ] && [ "$(strip "$tmp/qout")" = "$(strip "$tmp/stdout")" ]; then
  echo "ok: --quiet: stderr empty, stdout the same book"
else echo "FAIL: --quiet: exit $rc, stderr: $(head -3 "$tmp/qerr"), stdout differs: $(diff <(strip "$tmp/stdout") <(strip "$tmp/qout") | head -5)"; fail=1; fi

# ---- usage errors -------------------------------------------------------------------------------
"$cgrad" chapter4 --bogus >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && echo "ok: an unknown option exits 2" || { echo "FAIL: --bogus exited $rc"; fail=1; }
"$cgrad" chapter4 --threads 0 >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && echo "ok: --threads 0 exits 2" || { echo "FAIL: --threads 0 exited $rc"; fail=1; }
touch "$tmp/afile"
"$cgrad" chapter4 --quick --out "$tmp/afile" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && echo "ok: --out naming a file exits 1 ($(head -1 "$tmp/err"))" || { echo "FAIL: --out a file exited $rc"; fail=1; }
"$cgrad" chapter4 --help | grep -q "usage: cgrad chapter4" && echo "ok: --help" || { echo "FAIL: --help"; fail=1; }
exit $fail
