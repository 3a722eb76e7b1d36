"""PyTorch + PIL counterpart of bench/bench_data.c: the same steps on the same
files, timed the same way (1 warm-up run, then repeat until 2 s have passed,
at least 3 and at most 20 runs, median), on 2 threads.

Loads PNGs the chapter's way ([tensor(Image.open(o)) for o in files] and
torch.stack), reads IDX the way torchvision does (gzip, numpy.frombuffer,
torch.from_numpy), and runs the pixel-similarity baseline with the chapter's
tensor code.  Finds the data where cgrad's cache puts it ($CGRAD_HOME, else
~/.cgrad; bench_data, run first by bench/run.sh, fills it).
Prints RESULT<TAB><op><TAB><median ms> and NOTE lines.
Run with /usr/bin/python3 (the interpreter that has torch)."""
import gzip
import os
import statistics
import time

import numpy as np
import torch
from PIL import Image

torch.set_num_threads(2)
home = os.environ.get("CGRAD_HOME") or os.path.join(os.path.expanduser("~"), ".cgrad")
sample = os.path.join(home, "data", "mnist_sample")
mnist = os.path.join(home, "data", "mnist")
folders = ["train/3", "train/7", "valid/3", "valid/7"]
files = [sorted(os.path.join(sample, f, n) for n in os.listdir(os.path.join(sample, f))) for f in folders]


def load_pngs():
    return [torch.stack([torch.tensor(np.array(Image.open(o))) for o in fs]) for fs in files]


def read_idx_file(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return torch.from_numpy(np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims).copy())


idx_names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def read_idx():
    return [read_idx_file(os.path.join(mnist, n)) for n in idx_names]


stacks = load_pngs()
idx = read_idx()
check = [0.0]


def mnist_distance(a, b):
    return (a - b).abs().mean((-1, -2))


def three_vs_seven():
    x = [s.float() / 255 for s in stacks]
    mean3, mean7 = x[0].mean(0), x[1].mean(0)
    acc3 = (mnist_distance(x[2], mean3) < mnist_distance(x[2], mean7)).float().mean()
    acc7 = (1 - (mnist_distance(x[3], mean3) < mnist_distance(x[3], mean7)).float()).mean()
    check[0] = ((acc3 + acc7) / 2).item()


def ten_digits():
    x_train, x_test = idx[0].float() / 255, idx[2].float() / 255
    onehot = (idx[1].long()[None] == torch.arange(10)[:, None]).float()
    means = (onehot @ x_train.view(60000, 784) / onehot.sum(1, keepdim=True)).view(10, 28, 28)
    y_test = idx[3].long()
    right = 0
    for i in range(0, 10000, 1000):
        d = mnist_distance(x_test[i:i + 1000, None], means)
        right += (d.argmin(1) == y_test[i:i + 1000]).sum().item()
    check[0] = right / 10000


def bench(name, step):
    step()
    times = []
    start = time.perf_counter()
    while len(times) < 20 and (len(times) < 3 or time.perf_counter() - start < 2.0):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    print(f"RESULT\t{name}\t{statistics.median(times):.3f}", flush=True)


print(f"NOTE\t{sum(len(f) for f in files)} PNGs with PIL {Image.__version__}, torch {torch.__version__}, 2 threads")
bench("load MNIST_SAMPLE PNGs (14434)", load_pngs)
bench("read MNIST IDX (4 .gz files)", read_idx)
bench("pixel similarity 3 vs 7", three_vs_seven)
print(f"NOTE\t3 vs 7 average accuracy {check[0]:.4f}")
bench("pixel similarity 10 digits", ten_digits)
print(f"NOTE\t10 digits L1 accuracy {check[0]:.4f}")
