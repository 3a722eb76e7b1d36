#!/usr/bin/env bash
# `cgrad predict`: usage errors exit 2, bad model files exit 1 with a message
# naming the file.  (Predictions on real images are checked end to end in
# tests/test_train_manual.c, which trains, saves and runs this command.)
# Usage: predict.sh <cgrad binary>
set -uo pipefail
cgrad="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # check <expected exit code> <text expected on stdout+stderr> <args...>
  local code=$1 text=$2; shift 2
  out=$("$cgrad" "$@" 2>&1); rc=$?
  if [ "$rc" != "$code" ]; then echo "FAIL: cgrad $* exited $rc, expected $code: $out"; fail=1; fi
  if ! grep -qF -- "$text" <<<"$out"; then echo "FAIL: cgrad $* did not print: $text ($out)"; fail=1; fi
}

check 0 "usage: cgrad predict --model FILE" predict --help
check 2 "--model FILE is required" predict x.png
check 2 "no image given" predict --model m.safetensors
check 2 "unknown option '--bogus'" predict --bogus
check 1 "cgrad: $tmp/missing.safetensors" predict --model "$tmp/missing.safetensors" x.png
printf 'not a model' > "$tmp/junk.safetensors"
check 1 "cgrad: $tmp/junk.safetensors: header length" predict --model "$tmp/junk.safetensors" x.png
# a valid safetensors file without cgrad's model metadata: {} with no tensors
printf '\x08\x00\x00\x00\x00\x00\x00\x00{}      ' > "$tmp/empty.safetensors"
check 1 "not a cgrad model file" predict --model "$tmp/empty.safetensors" x.png
exit $fail
