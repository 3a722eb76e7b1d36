#!/usr/bin/env bash
# --out DIR --checkpoints and --resume DIR (issue 10, "Models to keep"): a `cgrad train` run
# killed with SIGKILL in the middle of its training and resumed from its last
# checkpoint ends with the same model file, byte for byte (cmp), as a run with
# the same seed and --threads that was never stopped.  An mlp trains with Adam
# under fit_one_cycle on a shuffled folder, so the weights, Adam's averages and
# step counts, the schedule position, the loader's generator and the recorder
# must all come back.  Then the same for the cnn (conv, BatchNorm, ReLU) on
# --threads 2, where the conv kernels' thread tuner mixes 1- and 2-thread
# calls as the load goes: two runs in two processes give the same bytes, and
# a run killed inside its second epoch and resumed gives them too (the conv
# kernels are chosen by a fixed rule and give the same bits on any thread
# count: src/kernels/cpu_conv_dnnl.c).  Also: a corrupt checkpoint is refused with a one-line reason
# (exit 1), the checkpoints folder is checked before training, and --resume
# with another --epochs is refused.
# The data is made here: 8x8 gray PNGs written with printf (as hardening.sh).
# Usage: resume.sh /path/to/cgrad
set -u -o pipefail
cgrad=${1:?usage: resume.sh /path/to/cgrad}
case "$cgrad" in /*) ;; *) cgrad="$PWD/$cgrad" ;; esac
tmp=$(mktemp -d "${CGRAD_BINARY_DIR:-/tmp}/cli_resume.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fail=0
bad() { echo "FAIL: $*"; fail=1; }

dark='\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x08\x00\x00\x00\x08\x08\x00\x00\x00\x00\xe1\x64\xe1\x57\x00\x00\x00\x16\x49\x44\x41\x54\x78\xda\x63\x64\x60\x60\x60\xd0\x60\x60\x60\x60\x62\x80\x02\xf2\x18\x00\x0d\x00\x00\x38\x86\x94\xae\x91\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82'
light='\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x08\x00\x00\x00\x08\x08\x00\x00\x00\x00\xe1\x64\xe1\x57\x00\x00\x00\x15\x49\x44\x41\x54\x78\xda\x63\xfc\xcf\x00\x01\x4c\x0c\x38\x19\x2c\x37\x08\xab\x01\x00\x67\x11\x01\xe9\xf5\xfb\x3b\x90\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82'
# 150 training and 20 validation images per class: 300 batches of one per
# epoch, a fraction of a second, long enough to be killed inside an epoch
for c in dark light; do
    mkdir -p "d/train/$c" "d/valid/$c"
    printf "${!c}" > "d/train/$c/1.png"
    for i in $(seq 2 150); do cp "d/train/$c/1.png" "d/train/$c/$i.png"; done
    for i in $(seq 1 20); do cp "d/train/$c/1.png" "d/valid/$c/$i.png"; done
done
T=(train --data d --model mlp:64 --opt adam --one-cycle --epochs 4 --bs 1 --threads 1 --seed 3)

echo "== the run that is never stopped"
"$cgrad" "${T[@]}" --out straight > straight.txt 2>&1 || bad "the straight run failed: $(tail -3 straight.txt)"

echo "== the same run, killed with SIGKILL once its first checkpoint is there"
"$cgrad" "${T[@]}" --out run --checkpoints > killed.txt 2>&1 &
pid=$!
for _ in $(seq 1 3000); do [ -e run/checkpoints/last ] && break; sleep 0.01; done
kill -9 "$pid" 2> /dev/null
wait "$pid" 2> /dev/null
[ -e run/checkpoints/last ] || bad "no checkpoint appeared in run/checkpoints/"
[ -e run/model.safetensors ] && bad "the run finished before it was killed (the test needs a mid-run kill)"
last=$(cat run/checkpoints/last 2> /dev/null)
echo "killed; run/checkpoints/last -> $last"
case "$last" in epoch-[0-2].safetensors) ;; *) bad "run/checkpoints/last holds '$last'" ;; esac
[ -s "run/checkpoints/$last" ] || bad "run/checkpoints/$last is missing or empty"

echo "== a corrupt checkpoint is refused before training"
head -c 300 "run/checkpoints/$last" > trunc.safetensors
out=$("$cgrad" "${T[@]}" --resume trunc.safetensors 2>&1); rc=$?
[ "$rc" = 1 ] || bad "a truncated checkpoint exited $rc, expected 1: $out"
grep -q "trunc.safetensors" <<<"$out" || bad "the message does not name the file: $out"
[ "$(wc -l <<<"$out")" = 1 ] || bad "more than one line: $out"
out=$("$cgrad" "${T[@]}" --epochs 5 --resume run 2>&1); rc=$?
[ "$rc" = 1 ] && grep -q "fit of 5 epochs, the checkpoint's fit had 4" <<<"$out" ||
    bad "--resume with another --epochs: exit $rc: $out"
printf x > notadir
out=$("$cgrad" "${T[@]}" --out notadir/ck --checkpoints 2>&1); rc=$?
[ "$rc" = 1 ] && grep -q "nothing was trained" <<<"$out" || bad "--out under a file: exit $rc: $out"

echo "== resumed: the same bytes as the unbroken run"
"$cgrad" "${T[@]}" --out run --checkpoints --resume run > resumed.txt 2>&1 ||
    bad "the resumed run failed: $(tail -3 resumed.txt)"
cmp straight/model.safetensors run/model.safetensors || bad "the resumed model differs from the unbroken run's"
# the resumed run trained only the epochs after the checkpoint: its table ends
# with the unbroken run's last row (time column aside)
want=$(grep -E '^3 ' straight.txt | awk '{print $1, $2, $3, $4}')
got=$(grep -E '^3 ' resumed.txt | awk '{print $1, $2, $3, $4}')
[ -n "$want" ] && [ "$want" = "$got" ] || bad "epoch 3's row: '$got', expected '$want'"
first=${last#epoch-}; first=$((${first%.safetensors} + 1))
grep -qE "^$((first - 1)) " resumed.txt && bad "the resumed run trained epoch $((first - 1)) again"
[ -e run/checkpoints/epoch-3.safetensors ] && [ "$(cat run/checkpoints/last)" = epoch-3.safetensors ] ||
    bad "the resumed run did not go on checkpointing into run/checkpoints/"

echo "== cnn on 2 threads: two processes, the same bytes"
C=(train --data d --model cnn --opt adam --one-cycle --epochs 2 --bs 16 --threads 2 --seed 5)
"$cgrad" "${C[@]}" --out cnn1 > cnn1.txt 2>&1 || bad "the first cnn run failed: $(tail -3 cnn1.txt)"
"$cgrad" "${C[@]}" --out cnn2 > cnn2.txt 2>&1 || bad "the second cnn run failed: $(tail -3 cnn2.txt)"
cmp cnn1/model.safetensors cnn2/model.safetensors || bad "two cnn runs with the same seed and threads differ"

echo "== cnn: killed with SIGKILL inside epoch 2, resumed: the same bytes"
"$cgrad" "${C[@]}" --out cnnrun --checkpoints > cnnkilled.txt 2>&1 &
pid=$!
for _ in $(seq 1 6000); do [ -e cnnrun/checkpoints/last ] && break; sleep 0.01; done
kill -9 "$pid" 2> /dev/null
wait "$pid" 2> /dev/null
[ -e cnnrun/checkpoints/last ] || bad "no cnn checkpoint appeared in cnnrun/checkpoints/"
[ -e cnnrun/model.safetensors ] && bad "the cnn run finished before it was killed"
echo "killed; cnnrun/checkpoints/last -> $(cat cnnrun/checkpoints/last 2> /dev/null)"
"$cgrad" "${C[@]}" --out cnnrun --checkpoints --resume cnnrun > cnnresumed.txt 2>&1 ||
    bad "the resumed cnn run failed: $(tail -3 cnnresumed.txt)"
cmp cnn1/model.safetensors cnnrun/model.safetensors || bad "the resumed cnn differs from the unbroken run's"
want=$(grep -E '^1 ' cnn1.txt | awk '{print $1, $2, $3, $4}')
got=$(grep -E '^1 ' cnnresumed.txt | awk '{print $1, $2, $3, $4}')
[ -n "$want" ] && [ "$want" = "$got" ] || bad "cnn epoch 1's row (the second): '$got', expected '$want'"

[ "$fail" = 0 ] && echo "resume: all ok"
exit "$fail"
