#!/usr/bin/env bash
# Builds cgrad and runs its main job on the built-in default data, MNIST_SAMPLE:
#   1. `cgrad data get mnist_sample`  (fastai's untar_data: download or mirror, checksum, atomic unpack)
#   2. `cgrad pixel-similarity`       (the chapter's first classifier, exact to the book)
#   3. `cgrad train ... simple_net`   (the chapter's Learner: 784-30-ReLU-1, fit(40, 0.1))
# Outputs (the trained model, the CSV, the plots) go to ./cgrad-run/simple_net/ (train --out).
# Data comes from the public URLs, or from $CGRAD_MIRROR when set; with no
# mirror set and ../shared/data beside the clone (our CI machines, which have no
# internet), that folder is used as the mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target cgrad examples -j"$(nproc 2>/dev/null || echo 2)"  # the README points at build/examples/

if [[ -z "${CGRAD_MIRROR+set}" && -d ../shared/data ]]; then
  export CGRAD_MIRROR="$(cd ../shared/data && pwd)"
  echo "(using the local mirror $CGRAD_MIRROR)"
fi
mkdir -p cgrad-run
./build/cgrad data get mnist_sample
./build/cgrad pixel-similarity
./build/cgrad train --data mnist_sample --model simple_net --epochs 40 --lr 0.1 \
  --out cgrad-run/simple_net
echo "cgrad-run/simple_net/: model.safetensors, history.csv, loss.png, metric.png"
