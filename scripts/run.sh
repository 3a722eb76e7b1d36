#!/usr/bin/env bash
# The first command: builds cgrad and the examples, then runs fastbook chapter 4
# in one go on the built-in default data, MNIST_SAMPLE:
#   cgrad chapter4   the data (fastai's untar_data: download or mirror, checksum,
#                    atomic unpack), a digit and its pixel table, pixel similarity,
#                    gradients, SGD on the quadratic, the linear model from scratch,
#                    BasicOptim, the Learner's linear model, simple_net and lr_find,
#                    resnet18 with fit_one_cycle(1, 0.1), the confusion matrix and
#                    the top losses
# It prints what the book prints, and writes the report with every figure of the
# chapter to ./cgrad-chapter4/index.html (one file: open it in any browser).
# Arguments go to `cgrad chapter4`: scripts/run.sh --quick (a one-minute version),
# scripts/run.sh --full (all ten digits of MNIST too), --out DIR, --threads N, ...
# Data comes from the public URLs, or from $CGRAD_MIRROR when set; with no
# mirror set and ../shared/data beside the clone (our CI machines, which have no
# internet), that folder is used as the mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
# cgrad and every example the README points at (build/examples/<name>)
examples=()
for src in examples/*.c; do examples+=("$(basename "$src" .c)"); done
cmake --build build --target cgrad "${examples[@]}" -j"$(nproc 2>/dev/null || echo 2)"

if [[ -z "${CGRAD_MIRROR+set}" && -d ../shared/data ]]; then
  export CGRAD_MIRROR="$(cd ../shared/data && pwd)"
  echo "(using the local mirror $CGRAD_MIRROR)"
fi
./build/cgrad chapter4 "$@"
out=cgrad-chapter4
for ((i = 1; i <= $#; i++)); do # where the report went, when --out moved it
  a="${!i}"
  case "$a" in
    --out=*) out="${a#--out=}" ;;
    --out) j=$((i + 1)); out="${!j}" ;;
  esac
done
echo
echo "the report: $out/index.html   (the examples: build/examples/)"
