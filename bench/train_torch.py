"""PyTorch counterpart of bench/bench_train.c: the chapter's Learner runs
written as a plain PyTorch loop with fastai's semantics (no fastai needed).

  dls      the chapter's tensors (threes then sevens, sorted paths, /255,
           view(-1, 784); y = 1 for a three), DataLoader(list(zip(x, y)),
           batch_size=256), no shuffle
  fit      per epoch: train (pred, mnist_loss, backward, SGD step p -= lr*grad,
           zero_grad, the smoothed loss from loss.item()), then validate under
           no_grad (loss and batch_accuracy weighted by batch size)
  timing   ms per epoch, median of 10 epochs after 1 warm-up epoch; peak RSS
           from resource.getrusage (MiB)

Prints RESULT<TAB><op><TAB><value> and NOTE lines, the same op names as
bench_train.  Run with /usr/bin/python3 (the interpreter that has torch);
data from cgrad's cache ($CGRAD_HOME, else ~/.cgrad), which bench_train fills."""
import os
import resource
import statistics
import time

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
EPOCHS = 10
home = os.environ.get("CGRAD_HOME") or os.path.join(os.path.expanduser("~"), ".cgrad")
path = os.path.join(home, "data", "mnist_sample")


def stack(folder):
    files = sorted(os.path.join(path, folder, n) for n in os.listdir(os.path.join(path, folder)))
    return torch.stack([torch.tensor(np.array(Image.open(o))) for o in files]).float() / 255


def tensors(split):
    threes, sevens = stack(f"{split}/3"), stack(f"{split}/7")
    x = torch.cat([threes, sevens]).view(-1, 28 * 28)
    y = torch.tensor([1] * len(threes) + [0] * len(sevens)).unsqueeze(1)
    return x, y


train_x, train_y = tensors("train")
valid_x, valid_y = tensors("valid")
dl = DataLoader(list(zip(train_x, train_y)), batch_size=256)
valid_dl = DataLoader(list(zip(valid_x, valid_y)), batch_size=256)


def mnist_loss(predictions, targets):
    predictions = predictions.sigmoid()
    return torch.where(targets == 1, 1 - predictions, predictions).mean()


def batch_accuracy(xb, yb):
    preds = xb.sigmoid()
    correct = (preds > 0.5) == yb
    return correct.float().mean()


def fit(model, lr, n_epoch):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    smooth, count, times, acc = 0.0, 0, [], 0.0
    for _ in range(n_epoch):
        start = time.perf_counter()
        model.train()
        for xb, yb in dl:
            loss = mnist_loss(model(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
            count += 1
            smooth = 0.98 * smooth + 0.02 * loss.item()
        model.eval()
        total, acc_total, n = 0.0, 0.0, 0
        with torch.no_grad():
            for xb, yb in valid_dl:
                pred = model(xb)
                total += mnist_loss(pred, yb).item() * len(yb)
                acc_total += batch_accuracy(pred, yb).item() * len(yb)
                n += len(yb)
        acc = acc_total / n
        times.append(time.perf_counter() - start)
    return times, acc


def bench(name, model, lr):
    fit(model, lr, 1)
    times, acc = fit(model, lr, EPOCHS)
    print(f"RESULT\t{name} epoch (ms)\t{1e3 * statistics.median(times):.3f}")
    print(f"NOTE\t{name}: batch_accuracy {acc:.4f} after {EPOCHS + 1} epochs")


torch.manual_seed(42)
bench("linear", nn.Linear(28 * 28, 1), 1.0)
torch.manual_seed(42)
bench("simple_net", nn.Sequential(nn.Linear(28 * 28, 30), nn.ReLU(), nn.Linear(30, 1)), 0.1)
print(f"RESULT\tpeak RSS (MiB, not ms)\t{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")
print(f"NOTE\t{len(train_x)} training rows, batch 256, torch threads {torch.get_num_threads()}")
