"""PyTorch DistributedDataParallel twin of `mpirun -np W cgrad train --model cnn`:
what DDP's defaults give on the same data, so that cgrad's 1-versus-W-rank gap
can be set beside PyTorch's.

    /usr/bin/python3 bench/ddp_torch.py [--world 2] [--n-train 6000] [--n-valid 2000]
                                        [--bs 64] [--epochs 1] [--seeds 42]

For each seed it trains bench/vision_torch.py's cnn (conv_bn x4, avgpool,
Linear) with its fit_one_cycle (fastai's Adam and schedule, lr 0.01) on the
first --n-train MNIST training images and scores the first --n-valid test
images, once in one process with batch --bs and once over --world processes
(torch.distributed, gloo on loopback) with DDP's defaults:
  - DistributedDataParallel(model): rank 0's parameters and buffers broadcast
    at construction; gradients averaged (allreduce in buckets) during
    backward; broadcast_buffers=True: rank 0's BatchNorm running statistics
    are copied to every rank before each forward, so evaluation uses rank 0's;
  - BatchNorm statistics of each rank's own bs/W items (no SyncBatchNorm:
    PyTorch 1.13's runs on CUDA only);
  - DistributedSampler(shuffle=True, seed, drop_last=False) over the training
    set (padded to a multiple of W), a DataLoader with drop_last at bs/W;
  - validation: rank r scores items [r::W] and the loss and correct counts
    are summed with all_reduce.
Prints one line per run: world, seed, train_loss, valid_loss, accuracy.
Data from $CGRAD_MIRROR/mnist (the IDX .gz files), else ../shared/data/mnist."""
import argparse
import gzip
import math
import os
import sys

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from vision_torch import FastaiAdam, cnn, combined_cos  # noqa: E402


def load_idx(root, images, labels, n):
    with gzip.open(os.path.join(root, images)) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
    with gzip.open(os.path.join(root, labels)) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    return torch.from_numpy(x.copy()), torch.from_numpy(y.astype(np.int64))


def data(args):
    root = os.path.join(os.environ.get("CGRAD_MIRROR") or os.path.join(here, "..", "..", "shared", "data"), "mnist")
    return (load_idx(root, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", args.n_train),
            load_idx(root, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", args.n_valid))


def run(rank, world, args, seed, out):
    torch.set_num_threads(1)
    if world > 1:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(29500 + seed % 1000))
        dist.init_process_group("gloo", rank=rank, world_size=world)
    (tx, ty), (vx, vy) = data(args)
    torch.manual_seed(seed + 1000 * rank)  # ranks start apart: DDP's broadcast makes them equal
    model = cnn(10)
    net = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    opt = FastaiAdam(model)
    bs = args.bs // world
    sampler = torch.utils.data.distributed.DistributedSampler(
        torch.utils.data.TensorDataset(tx, ty), num_replicas=world, rank=rank, shuffle=True, seed=seed,
        drop_last=False)
    n_batches = math.ceil(len(tx) / world) // bs  # DataLoader(drop_last=True) over the shard
    total = args.epochs * n_batches
    smooth, count = 0.0, 0
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        idx_all = torch.tensor(list(iter(sampler)))
        model.train()
        for b in range(n_batches):
            pos = (epoch * n_batches + b) / total
            lr = combined_cos(0.25, args.lr / 25, args.lr, args.lr / 1e5, pos)
            mom = combined_cos(0.25, 0.95, 0.85, 0.95, pos)
            idx = idx_all[b * bs:(b + 1) * bs]
            loss = F.cross_entropy(net(tx[idx].float().div_(255)), ty[idx])
            loss.backward()
            opt.step(lr, mom)
            opt.zero_grad()
            lv = loss.detach().clone()
            if world > 1:
                dist.all_reduce(lv)
                lv /= world
            count += 1
            smooth = 0.98 * smooth + 0.02 * lv.item()
    net.eval()
    sums = torch.zeros(3, dtype=torch.float64)
    with torch.no_grad():
        mine = torch.arange(rank, len(vx), world)
        for i in range(0, len(mine), bs):
            j = mine[i:i + bs]
            pred = net(vx[j].float().div_(255))
            sums[0] += F.cross_entropy(pred, vy[j]).item() * len(j)
            sums[1] += (pred.argmax(-1) == vy[j]).sum().item()
            sums[2] += len(j)
    if world > 1:
        dist.all_reduce(sums)
        dist.destroy_process_group()
    if rank == 0:
        out.put((smooth / (1 - 0.98 ** count), (sums[0] / sums[2]).item(), (sums[1] / sums[2]).item()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--world", type=int, default=2)
    ap.add_argument("--n-train", type=int, default=6000)
    ap.add_argument("--n-valid", type=int, default=2000)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--seeds", type=str, default="42")
    ap.add_argument("--one", action="store_true", help="also the one-process run of each seed")
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    for seed in [int(s) for s in args.seeds.split(",")]:
        for world in ([1] if args.one else []) + [args.world]:
            q = ctx.Queue()
            if world == 1:
                run(0, 1, args, seed, q)
            else:
                mp.spawn(run, args=(world, args, seed, q), nprocs=world, join=True)
            tl, vl, acc = q.get()
            print(f"world {world} seed {seed} bs {args.bs} n_train {args.n_train}: train_loss {tl:.6f} "
                  f"valid_loss {vl:.6f} accuracy {acc:.4f}", flush=True)


if __name__ == "__main__":
    main()
