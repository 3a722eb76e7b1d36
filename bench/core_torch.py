"""PyTorch counterpart of bench/bench_core.c: the same ops at the same shapes,
timed the same way (3 warm-up calls, then repeat until 0.4 s have passed,
at least 5 and at most 1000 runs, fastest run: the machine is shared and
interference only adds time), on 2 threads.

Prints RESULT<TAB><op><TAB><fastest ms> lines with the op names bench_core
uses, and NOTE lines; bench/run.sh joins both into one table.
Run with /usr/bin/python3 (the interpreter that has torch)."""
import os
import time

import torch

# run.sh exports OMP_NUM_THREADS (default 2) to both sides
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
torch.manual_seed(42)

valid3 = torch.rand(1010, 28, 28)
mean3 = torch.rand(28, 28)
threes = torch.rand(6131, 28, 28)
images = [torch.full((28, 28), i % 256, dtype=torch.uint8) for i in range(1000)]
train_x = torch.rand(12396, 784)
weights = torch.rand(784, 1)
batch = torch.rand(256, 784)
w1 = torch.rand(784, 30)
w1t = torch.rand(30, 784)
preds = torch.rand(12396, 1)
act = torch.rand(256, 30)
bias = torch.rand(30)
sq_a = torch.rand(1024, 1024)
sq_b = torch.rand(1024, 1024)

OPS = [
    ("sub [1010,28,28]-[28,28]", lambda: valid3 - mean3),
    ("abs [1010,28,28]", lambda: valid3.abs()),
    ("mean((-1,-2)) [1010,28,28]", lambda: valid3.mean((-1, -2))),
    ("(a-b).abs().mean((-1,-2))", lambda: (valid3 - mean3).abs().mean((-1, -2))),
    ("mean(0) [6131,28,28]", lambda: threes.mean(0)),
    ("stack 1000x[28,28] u8 .float()/255", lambda: torch.stack(images).float() / 255),
    ("matmul [12396,784]@[784,1]", lambda: train_x @ weights),
    ("matmul [256,784]@[784,30]", lambda: batch @ w1),
    ("matmul [256,784]@[30,784].T", lambda: batch @ w1t.T),
    ("sigmoid [12396,1]", lambda: preds.sigmoid()),
    ("add [256,30]+[30]", lambda: act + bias),
    ("matmul [1024,1024]@[1024,1024]", lambda: sq_a @ sq_b),
]


def time_op(fn):
    for _ in range(3):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < 1000 and (len(times) < 5 or time.perf_counter() - start < 0.4):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return min(times)


with torch.no_grad():
    for name, fn in OPS:
        ms = time_op(fn)
        print(f"RESULT\t{name}\t{ms:.4f}", flush=True)
        if name.startswith("matmul [1024"):
            gflops = 2.0 * 1024**3 / (ms * 1e6)
            print(f"NOTE\tGEMM 1024: {gflops:.1f} GFLOP/s (torch {torch.__version__}, "
                  f"{torch.get_num_threads()} threads)")
