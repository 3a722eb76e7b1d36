"""PyTorch counterpart of bench/bench_conv.c: convolution, BatchNorm and
pooling at the shapes resnet18 meets on 28x28 MNIST (batch 64) and at the
shapes of `--model cnn`, timed the same way as bench_conv (3 warm-up calls,
then repeat until 0.4 s have passed, at least 5 and at most 1000 runs,
fastest run), on the same threads.

Each conv shape has three rows: forward, backward data (grad_input) and
backward weights (grad_weight, plus grad_bias where the layer has a bias),
each timed alone through aten's convolution_backward with an output mask.
The batchnorm rows time native_batch_norm and its backward; the
batchnorm+relu rows add the ReLU after it (in place, as torchvision's) and,
backward, its threshold_backward before batch_norm's.
Prints RESULT<TAB><op><TAB><fastest ms> lines with bench_conv's op names.
Run with /usr/bin/python3 (the interpreter that has torch)."""
import os
import time

import torch

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
torch.manual_seed(42)

N = 64
# name, C, OC, H(=W), k, stride, pad  (the same table as bench_conv.c)
CONVS = [
    ("stem 7x7s2 3->64 28", 3, 64, 28, 7, 2, 3),
    ("3x3 64->64 7", 64, 64, 7, 3, 1, 1),
    ("3x3s2 64->128 7", 64, 128, 7, 3, 2, 1),
    ("1x1s2 64->128 7", 64, 128, 7, 1, 2, 0),
    ("3x3 128->128 4", 128, 128, 4, 3, 1, 1),
    ("3x3s2 128->256 4", 128, 256, 4, 3, 2, 1),
    ("1x1s2 128->256 4", 128, 256, 4, 1, 2, 0),
    ("3x3 256->256 2", 256, 256, 2, 3, 1, 1),
    ("3x3s2 256->512 2", 256, 512, 2, 3, 2, 1),
    ("1x1s2 256->512 2", 256, 512, 2, 1, 2, 0),
    ("3x3 512->512 1", 512, 512, 1, 3, 1, 1),
    ("cnn 3x3 1->32 28", 1, 32, 28, 3, 1, 1),
    ("cnn 3x3s2 32->64 28", 32, 64, 28, 3, 2, 1),
    ("cnn 3x3s2 64->128 14", 64, 128, 14, 3, 2, 1),
    ("cnn 3x3s2 128->256 7", 128, 256, 7, 3, 2, 1),
]
# name, C, H(=W): BatchNorm2d after each distinct conv output above
BNS = [
    ("64x14x14", 64, 14), ("64x7x7", 64, 7), ("128x4x4", 128, 4), ("256x2x2", 256, 2),
    ("512x1x1", 512, 1), ("cnn 32x28x28", 32, 28), ("cnn 128x7x7", 128, 7),
]
# BatchNorm2d then ReLU (bench_conv's batchnorm+relu rows: cgrad fuses the two)
BN_RELUS = [("64x14x14", 64, 14), ("cnn 32x28x28", 32, 28)]


# CGRAD_BENCH_CLOCK=cpu times each call by the process's CPU time instead of
# the wall clock, as bench_conv does: on one thread of a loaded machine that
# leaves out the time the thread waited descheduled (both sides alike).
CLOCK = time.process_time if os.environ.get("CGRAD_BENCH_CLOCK") == "cpu" else time.perf_counter


def time_op(fn):
    for _ in range(3):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < 1000 and (len(times) < 5 or time.perf_counter() - start < 0.4):
        t0 = CLOCK()
        fn()
        times.append((CLOCK() - t0) * 1e3)
    return min(times)


def out_size(h, k, s, p):
    return (h + 2 * p - k) // s + 1


def report(name, fn):
    print(f"RESULT\t{name}\t{time_op(fn):.4f}", flush=True)


conv_bwd = torch.ops.aten.convolution_backward
with torch.no_grad():
    for name, c, oc, h, k, s, p in CONVS:
        x = torch.rand(N, c, h, h)
        w = torch.rand(oc, c, k, k) - 0.5
        oh = out_size(h, k, s, p)
        gy = torch.rand(N, oc, oh, oh)
        st, pd, dl = [s, s], [p, p], [1, 1]
        report(f"conv {name} fwd", lambda: torch.nn.functional.conv2d(x, w, None, s, p))
        report(f"conv {name} bwd data", lambda: conv_bwd(gy, x, w, None, st, pd, dl, False, [0, 0], 1,
                                                         [True, False, False]))
        report(f"conv {name} bwd weight", lambda: conv_bwd(gy, x, w, None, st, pd, dl, False, [0, 0], 1,
                                                           [False, True, False]))

    for name, c, h in BNS:
        x = torch.rand(N, c, h, h)
        gamma, beta = torch.rand(c), torch.rand(c)
        rm, rv = torch.zeros(c), torch.ones(c)
        report(f"batchnorm {name} fwd train",
               lambda: torch.ops.aten.native_batch_norm(x, gamma, beta, rm, rv, True, 0.1, 1e-5))
        _, mean, invstd = torch.ops.aten.native_batch_norm(x, gamma, beta, rm, rv, True, 0.1, 1e-5)
        gy = torch.rand_like(x)
        report(f"batchnorm {name} bwd",
               lambda: torch.ops.aten.native_batch_norm_backward(gy, x, gamma, rm, rv, mean, invstd, True,
                                                                 1e-5, [True, True, True]))

    # relu(batch_norm(x)) as torchvision's resnet runs it (ReLU(inplace=True)):
    # the forward is batch_norm then an in-place relu; the backward is what
    # autograd runs for the pair, threshold_backward (dy * (y > 0)) and then
    # batch_norm's backward.
    relu = torch.nn.functional.relu
    for name, c, h in BN_RELUS:
        x = torch.rand(N, c, h, h) - 0.5
        gamma, beta = torch.rand(c), torch.rand(c)
        rm, rv = torch.zeros(c), torch.ones(c)
        report(f"batchnorm+relu {name} fwd train",
               lambda: relu(torch.ops.aten.native_batch_norm(x, gamma, beta, rm, rv, True, 0.1, 1e-5)[0],
                            inplace=True))
        y, mean, invstd = torch.ops.aten.native_batch_norm(x, gamma, beta, rm, rv, True, 0.1, 1e-5)
        y = relu(y, inplace=True)
        gy = torch.rand_like(x)
        report(f"batchnorm+relu {name} bwd",
               lambda: torch.ops.aten.native_batch_norm_backward(torch.ops.aten.threshold_backward(gy, y, 0), x,
                                                                 gamma, rm, rv, mean, invstd, True, 1e-5,
                                                                 [True, True, True]))

    x = torch.rand(N, 64, 14, 14)
    report("maxpool 3x3s2p1 64x14->7 fwd",
           lambda: torch.ops.aten.max_pool2d_with_indices(x, [3, 3], [2, 2], [1, 1]))
    y, idx = torch.ops.aten.max_pool2d_with_indices(x, [3, 3], [2, 2], [1, 1])
    gy = torch.rand_like(y)
    report("maxpool 3x3s2p1 64x14->7 bwd",
           lambda: torch.ops.aten.max_pool2d_with_indices_backward(gy, x, [3, 3], [2, 2], [1, 1], [1, 1],
                                                                   False, idx))
    x = torch.rand(N, 256, 4, 4)
    report("adaptive avgpool 256x4->1 fwd", lambda: torch.nn.functional.adaptive_avg_pool2d(x, 1))
    report("adaptive maxpool 256x4->1 fwd", lambda: torch.nn.functional.adaptive_max_pool2d(x, 1, True))

print(f"NOTE\ttorch {torch.__version__}, {torch.get_num_threads()} threads, "
      f"mkldnn {torch.backends.mkldnn.is_available()}")
