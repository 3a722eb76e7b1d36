#!/usr/bin/env bash
# cgrad data: get, list and a failing case, through the CLI as a user runs it.
# Usage (CTest): bash data.sh <path-to-cgrad>, with CGRAD_MIRROR and CGRAD_HOME
# set (the real data's mirror folder and the build's cache).
set -u
cgrad="$1"
fails=0
passes=0
check() { # check "what" <condition...>
    local what="$1"; shift
    if "$@"; then echo "ok: $what"; passes=$((passes + 1)); else echo "FAIL: $what" >&2; fails=$((fails + 1)); fi
}
tmp=$(mktemp -d /tmp/cgrad-cli-data-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# get: the folder on stdout, progress on stderr, exit 0
path=$("$cgrad" data get mnist_sample 2>"$tmp/err1"); rc=$?
check "get mnist_sample exits 0" test "$rc" -eq 0
check "get prints \$CGRAD_HOME/data/mnist_sample" test "$path" = "$CGRAD_HOME/data/mnist_sample"
check "train/3 holds 6131 PNGs" test "$(ls "$path/train/3" | grep -c '\.png$')" -eq 6131
check "valid/7 holds 1028 PNGs" test "$(ls "$path/valid/7" | grep -c '\.png$')" -eq 1028
check "labels.csv has 14434 rows + header" test "$(wc -l < "$path/labels.csv")" -eq 14435

# a second get: same answer, nothing copied (no progress printed)
path2=$("$cgrad" data get mnist_sample 2>"$tmp/err2"); rc=$?
check "second get exits 0 with the same path" test "$rc" -eq 0 -a "$path2" = "$path"
check "second get copies nothing" test ! -s "$tmp/err2"

# list: name, size, files, path
"$cgrad" data list >"$tmp/list" 2>&1; rc=$?
check "list exits 0" test "$rc" -eq 0
check "list shows mnist_sample with 14435 files and its path" \
    grep -Eq "^mnist_sample +[0-9.]+ [kM]?B +14435  $path\$" "$tmp/list"
"$cgrad" data list --known >"$tmp/known" 2>&1
check "list --known names mnist_png" grep -q "^mnist_png " "$tmp/known"

# failures: unknown name -> exit 1, message on stderr, nothing on stdout
out=$("$cgrad" data get no_such_set 2>"$tmp/err3"); rc=$?
check "unknown dataset exits non-zero" test "$rc" -ne 0
check "unknown dataset: message on stderr" grep -q "^cgrad: unknown dataset 'no_such_set'" "$tmp/err3"
check "unknown dataset: nothing on stdout" test -z "$out"
"$cgrad" data >/dev/null 2>&1; rc=$?
check "no action is a usage error (2)" test "$rc" -eq 2
"$cgrad" data get --bogus mnist >/dev/null 2>&1; rc=$?
check "unknown option is a usage error (2)" test "$rc" -eq 2
"$cgrad" data --help | grep -q "usage: cgrad data get"
check "--help prints usage" test "${PIPESTATUS[0]}" -eq 0

# a mirror with a corrupted file: checksum error, nothing cached
mkdir -p "$tmp/mirror/mnist"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz; do
    ln -s "$CGRAD_MIRROR/mnist/$f" "$tmp/mirror/mnist/$f"
done
cp "$CGRAD_MIRROR/mnist/t10k-labels-idx1-ubyte.gz" "$tmp/mirror/mnist/"
printf '\x00' | dd of="$tmp/mirror/mnist/t10k-labels-idx1-ubyte.gz" bs=1 seek=2000 conv=notrunc 2>/dev/null
"$cgrad" data get mnist --home "$tmp/home" --mirror "$tmp/mirror" --quiet >/dev/null 2>"$tmp/err4"; rc=$?
check "corrupted mirror file exits non-zero" test "$rc" -ne 0
check "corrupted mirror file: checksum message" grep -q "md5 .*expected ec29112dd5afa0611ce80d1b7f02629c" "$tmp/err4"
check "corrupted mirror file: nothing cached" test ! -e "$tmp/home/data/mnist"

# ---- a broken cache is never reported as fine (own home: the build's stays intact)
home="$tmp/home-cache"
[ -w /dev/shm ] && home=$(mktemp -d /dev/shm/cgrad-cli-data-XXXXXX) && trap 'rm -rf "$tmp" "$home"' EXIT
reg=$("$cgrad" data get mnist_sample --home "$home" --quiet 2>/dev/null)
check "own home: get mnist_sample" test "$reg" = "$home/data/mnist_sample"
first=$(cd "$reg/train/7" && LC_ALL=C ls | grep '\.png$' | head -1)
(cd "$reg/train/7" && LC_ALL=C ls | grep '\.png$' | head -2849 | xargs rm -f)
check "2849 sevens deleted" test "$(ls "$reg/train/7" | grep -c '\.png$')" -eq 3416
out=$("$cgrad" data get mnist_sample --home "$home" --quiet 2>"$tmp/err5"); rc=$?
check "get after deleting PNGs exits 0" test "$rc" -eq 0 -a "$out" = "$reg"
check "it says what is missing, even with --quiet" \
    grep -qx "cgrad: mnist_sample: 2849 of 14435 files missing (first: train/7/$first); re-getting" "$tmp/err5"
check "all 6265 sevens are back" test "$(ls "$reg/train/7" | grep -c '\.png$')" -eq 6265

# the marker edited: damaged means not cached, so it is got again
sed -i 's/^files=14435$/files=14434/' "$reg/.cgrad-complete"
"$cgrad" data get mnist_sample --home "$home" >/dev/null 2>"$tmp/err6"; rc=$?
check "get after editing the marker exits 0" test "$rc" -eq 0
check "it says the marker is damaged" grep -q "^cgrad: mnist_sample: its marker is damaged.*; re-getting$" "$tmp/err6"
check "the marker is whole again" grep -qx "files=14435" "$reg/.cgrad-complete"

# an ad-hoc archive called mnist_sample.tgz: its own dataset, even with --force
mkdir -p "$tmp/fake/mnist_sample/train/3" "$tmp/fakesrc"
printf 'name,label\ntrain/3/x.png,3\n' >"$tmp/fake/mnist_sample/labels.csv"
printf 'not a png' >"$tmp/fake/mnist_sample/train/3/x.png"
tar czf "$tmp/fakesrc/mnist_sample.tgz" -C "$tmp/fake" mnist_sample
cp "$reg/.cgrad-complete" "$tmp/marker-before"
adhoc=$("$cgrad" data get "file://$tmp/fakesrc/mnist_sample.tgz" --home "$home" --mirror "" --force --quiet 2>&1); rc=$?
check "ad-hoc mnist_sample.tgz exits 0" test "$rc" -eq 0
check "it becomes mnist_sample-<8 hex>, not mnist_sample" \
    bash -c '[[ "$1" =~ ^"$2"/data/mnist_sample-[0-9a-f]{8}$ ]]' _ "$adhoc" "$home"
check "the registered copy is untouched" cmp -s "$reg/.cgrad-complete" "$tmp/marker-before"
check "the registered copy keeps its 6131 threes" test "$(ls "$reg/train/3" | grep -c '\.png$')" -eq 6131
out=$("$cgrad" data get mnist_sample --home "$home" 2>"$tmp/err7")
check "mnist_sample still names the registered copy, silently" test "$out" = "$reg" -a ! -s "$tmp/err7"

# leftovers: a dead process's temp folder goes and is reported; a live one's stays
sh -c 'exit 0' & dead=$!; wait "$dead"
sleep 60 & live=$!
mkdir -p "$home/data/.mnist.tmp.$dead.0/x" "$home/data/.mnist.tmp.$live.1"
printf '%s\n' "$dead" >"$home/data/.ghost.lock"
"$cgrad" data get mnist_sample --home "$home" >/dev/null 2>"$tmp/err8"
check "a dead process's temp folder is removed" test ! -e "$home/data/.mnist.tmp.$dead.0"
check "and reported" grep -qx "cgrad: removed $home/data/.mnist.tmp.$dead.0, a temp folder left by process $dead (no longer running)" "$tmp/err8"
check "a dead process's lock file is removed" test ! -e "$home/data/.ghost.lock"
check "a live process's temp folder is kept" test -d "$home/data/.mnist.tmp.$live.1"
kill "$live"; wait "$live" 2>/dev/null

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
