"""The PyTorch twin of `cgrad train --data mnist --model cnn --one-cycle` over
several epochs, drawn as cgrad draws: torch.manual_seed(seed) then the net
(PyTorch's default init, kaiming_uniform_ a=sqrt(5)); the training order of
each epoch from one torch.Generator seeded with seed, as
DataLoader(shuffle=True, generator=g) draws it: an int64 base seed, then
RandomSampler's randperm(n) and the one for its empty remainder (unlike
bench/vision_torch.py, which takes randperm(n) straight away); batch 64 with drop_last, /255, no Normalize;
fit_one_cycle's lr and mom (combined_cos, pct_start 0.25, div 25,
div_final 1e5, moms 0.95/0.85/0.95) at pos = steps done / total steps;
fastai's Adam (bench/vision_torch.py's FastaiAdam: decoupled wd 0.01, none on
BatchNorm weights and biases, eps 1e-5, sqr_mom 0.99); mean cross-entropy.
Prints the accuracy on the test images after every epoch.

With --compare FILE (a model cgrad saved with `--save`, trained with the
same flags on the same data) it prints, tensor by tensor, the largest
difference between cgrad's weights and the twin's: float rounding (conv
algorithms, summation order) gives ~1e-6 after a few steps; a recipe that
differs gives far more.  Not a test (needs torch); a tool for parity checks.

    /work/venv-torch2/bin/python tests/support/cnn_twin.py DATA_DIR [--epochs 5] [--compare m.safetensors]
DATA_DIR holds MNIST's four IDX files (.gz), as `cgrad train --data DIR` reads them."""
import argparse
import gzip
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vision_torch import FastaiAdam, batch, cnn, combined_cos  # noqa: E402


def load_idx(root, images, labels):
    def read(name):
        p = os.path.join(root, name)
        return (gzip.open(p) if os.path.exists(p) else open(p[:-3], "rb")).read()
    x = np.frombuffer(read(images), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    y = np.frombuffer(read(labels), np.uint8, offset=8)
    return torch.from_numpy(x.copy()), torch.from_numpy(y.astype(np.int64))


def evaluate(model, vx, vy, bs):
    model.eval()
    tot, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(vx), bs):
            xb, yb = batch(vx[i:i + bs], 1), vy[i:i + bs]
            pred = model(xb)
            tot += F.cross_entropy(pred, yb, reduction="sum").item()
            correct += (pred.argmax(-1) == yb).sum().item()
    model.train()
    return tot / len(vx), correct / len(vx)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--compare")
    ap.add_argument("--no-shuffle", action="store_true", help="the training set in order, as cgrad's --no-shuffle")
    ap.add_argument("--init", help="start from this cgrad model file's parameters (BatchNorm buffers reset)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tx, ty = load_idx(a.data, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    vx, vy = load_idx(a.data, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    torch.manual_seed(a.seed)
    model = cnn(10)
    torch_init = {k: v.detach().clone() for k, v in model.named_parameters()}
    if a.init:
        from load_in_torch import read_safetensors
        sd, _ = read_safetensors(a.init)
        with torch.no_grad():
            for k, p in model.named_parameters():
                p.copy_(sd[k])
    opt = FastaiAdam(model)
    g = torch.Generator().manual_seed(a.seed)
    n_batches = len(tx) // a.bs
    total = a.epochs * n_batches
    step = 0
    model.train()
    for epoch in range(a.epochs):
        t0, c0 = time.perf_counter(), time.process_time()
        # DataLoader(generator=g): the iterator's base seed, one int64 from g,
        # then RandomSampler's randperm(n) and its remainder's (cgrad's dataloader.c)
        torch.empty((), dtype=torch.int64).random_(generator=g)
        perm = torch.randperm(len(tx), generator=g)
        torch.randperm(len(tx), generator=g)
        if a.no_shuffle:
            perm = torch.arange(len(tx))
        smooth, count = 0.0, 0
        for b in range(n_batches):
            pos = step / total
            lr = combined_cos(0.25, a.lr / 25, a.lr, a.lr / 1e5, pos)
            mom = combined_cos(0.25, 0.95, 0.85, 0.95, pos)
            idx = perm[b * a.bs:(b + 1) * a.bs]
            loss = F.cross_entropy(model(batch(tx[idx], 1)), ty[idx])
            loss.backward()
            opt.step(lr, mom)
            opt.zero_grad()
            step += 1
            count += 1
            smooth = 0.98 * smooth + 0.02 * loss.item()
        vloss, acc = evaluate(model, vx, vy, a.bs)
        print(f"epoch {epoch} train_loss {smooth / (1 - 0.98 ** count):.6f} valid_loss {vloss:.6f} "
              f"accuracy {acc:.4f} ({time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU)",
              flush=True)
    if a.compare:
        from load_in_torch import read_safetensors
        if a.init:
            sd0, _ = read_safetensors(a.init)
            print("max |cgrad init - torch init| before the --init copy:",
                  max((sd0[k] - v).abs().max().item() for k, v in torch_init.items()))
        sd, _ = read_safetensors(a.compare)
        for k, v in model.state_dict().items():
            w = sd[k]
            if v.dtype.is_floating_point:
                d = (v - w).abs().max().item()
                rel = ""
                if a.init and k in sd0:  # how far apart the two updates are, relative to torch's
                    du = (v - sd0[k]).norm().item()
                    rel = f"  |update diff|/|torch update| {(v - w).norm().item() / max(du, 1e-30):.3g}"
                print(f"{k:28s} max|torch-cgrad| {d:.3g}  (max|torch| {v.abs().max().item():.3g}){rel}")
            else:
                print(f"{k:28s} torch {v.item()} cgrad {w.item()}")


if __name__ == "__main__":
    main()
