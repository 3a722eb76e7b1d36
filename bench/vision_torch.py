"""PyTorch counterpart of bench/bench_vision.c: the same two one-epoch
trainings with fastai's semantics in plain torch (fastai itself is not needed).

  resnet18  fastai's vision_learner(dls, resnet18, pretrained=False) model:
            torchvision's resnet18 body (children[:-2]) and create_head(1024, 2)
            with kaiming_normal_ head Linears, built as
            tests/support/resnet_reference.py builds it; MNIST_SAMPLE
            3x28x28 RGB /255, batch 64, fit_one_cycle(1, 0.1)
  cnn       the cnn of src/nn/cnn.c (conv_bn 1->32, 32->64/2, 64->128/2,
            128->256/2, AdaptiveAvgPool2d(1), Flatten, Linear(256,10)); full
            MNIST (60000 train, 10000 test as validation), 1x28x28 /255,
            batch 64, fit_one_cycle(1, 0.01)

What is matched of fastai:
  data      ImageDataLoaders.from_folder: training set shuffled with
            drop_last, validation in order with its last partial batch,
            IntToFloatTensor (/255), no Normalize (pretrained=False).  The
            images are decoded once up front into one uint8 tensor (as
            cgrad's loader does: a gray PNG keeps one plane, copied to RGB's
            three per batch) and each batch is converted to float; the
            decode is timed apart as "load".  fastai instead decodes PNGs per
            batch in workers, which would only make this side slower.
  fit       fit_one_cycle: per step lr = combined_cos(0.25, lr/25, lr,
            lr/1e5) and mom = combined_cos(0.25, 0.95, 0.85, 0.95) at
            pos = step / total steps; fastai's Adam written out: decoupled
            weight decay p *= 1 - lr*wd (wd 0.01, not on BatchNorm weights or
            biases: wd_bn_bias=False), avg = mom*avg + (1-mom)*g,
            sqr = 0.99*sqr + 0.01*g^2, p -= lr/(1-mom^t) * avg /
            (sqrt(sqr/(1-0.99^t)) + 1e-5); cross-entropy loss, the smoothed
            loss from loss.item() every batch, then validation under no_grad
            in eval mode (loss and accuracy weighted by batch size)
  timing    seconds for the one epoch (training + validation), wall and CPU
            (time.process_time: every thread, user + system); the peak RSS
            of the process that ran the part (its ru_maxrss from os.wait4,
            MiB), torch's import included as cgrad's libraries are

Prints RESULT<TAB><op><TAB><value> and NOTE lines with bench_vision's op
names.  CGRAD_BENCH_VISION=resnet18 or cnn runs one part.  The data folders
are the ones bench_vision read (bench/run.sh passes its DATA lines on as
CGRAD_BENCH_DATA_RESNET18 and CGRAD_BENCH_DATA_CNN); without them, cgrad's
cache ($CGRAD_HOME, else ~/.cgrad) or else $CGRAD_MIRROR."""
import gzip
import math
import os
import subprocess
import sys
import time


def run_parts():
    """Each part in a child process of its own, its peak RSS from os.wait4;
    this parent imports no torch, so the machine holds one torch at a time."""
    only = os.environ.get("CGRAD_BENCH_VISION")
    print("UNITS\tin the op names")
    sys.stdout.flush()
    for part in ("resnet18", "cnn"):
        if only and only != part:
            continue
        child = subprocess.Popen([sys.executable, __file__, part])
        _, status, ru = os.wait4(child.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code:
            sys.exit(f"vision_torch.py: the {part} part failed ({code})")
        print(f"RESULT\t{part} peak RSS (MiB)\t{ru.ru_maxrss / 1024:.1f}")
        sys.stdout.flush()


if __name__ == "__main__" and len(sys.argv) == 1:
    run_parts()
    sys.exit(0)

import numpy as np  # noqa: E402  (the parts' imports, after the parent's early exit)
import torch  # noqa: E402
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

home = os.environ.get("CGRAD_HOME") or os.path.join(os.path.expanduser("~"), ".cgrad")


def data_root(part, name):
    """The folder bench_vision read for `part` (dataset `name`)."""
    given = os.environ.get("CGRAD_BENCH_DATA_" + part.upper())
    if given:
        return given
    for root in (os.path.join(home, "data", name), os.path.join(os.environ.get("CGRAD_MIRROR", ""), name)):
        if os.path.isdir(root):
            return root
    sys.exit(f"vision_torch.py: no {name} data: run bench_vision first (it fills {home}/data) or set CGRAD_MIRROR")


def load_folder(root, split):
    """Every image of root/split/<class>/ as one uint8 tensor [N,P,H,W] and the
    labels; a gray image keeps its one plane (P = 1), as cgrad's loader keeps
    it, and batch() copies it to the three RGB channels, which is what
    convert("RGB") gives."""
    from PIL import Image
    classes = sorted(d for d in os.listdir(os.path.join(root, split)) if not d.startswith("."))
    xs, ys = [], []
    for c, name in enumerate(classes):
        folder = os.path.join(root, split, name)
        for f in sorted(os.listdir(folder)):
            if f.startswith("."):
                continue
            im = Image.open(os.path.join(folder, f))
            a = np.array(im.convert("L" if im.mode in ("L", "1", "I;16") else "RGB"))
            xs.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
            ys.append(c)
    planes = max(x.shape[0] for x in xs)
    x = torch.from_numpy(np.stack([np.repeat(x, planes // x.shape[0], 0) for x in xs]))  # N,P,28,28 uint8
    return x, torch.tensor(ys)


def batch(x, channels):
    """uint8 [B,P,H,W] -> float32 [B,channels,H,W] / 255 (IntToFloatTensor)."""
    if x.shape[1] != channels:
        x = x.expand(-1, channels, -1, -1).contiguous()
    return x.float().div_(255)


def load_idx(root, images, labels):
    with gzip.open(os.path.join(root, images)) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(os.path.join(root, labels)) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.from_numpy(x.copy()), torch.from_numpy(y.astype(np.int64))


def vision_model(n_out):
    """fastai's vision_learner(resnet18) model, as tests/support/resnet_reference.py builds it
    (torchvision's body, create_head, kaiming_normal_ on the head; the same init draws as cgrad's)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "support"))
    from resnet_reference import vision_model as fastai_vision_model
    return fastai_vision_model(n_out)


def conv_bn(ci, co, s):
    return nn.Sequential(nn.Conv2d(ci, co, 3, stride=s, padding=1, bias=False), nn.BatchNorm2d(co), nn.ReLU())


def cnn(n_out):
    return nn.Sequential(conv_bn(1, 32, 1), conv_bn(32, 64, 2), conv_bn(64, 128, 2), conv_bn(128, 256, 2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, n_out))


def combined_cos(pct, start, middle, end, pos):
    def cos(a, b, p):
        return a + (1 + math.cos(math.pi * (1 - p))) * (b - a) / 2
    if pos < pct:
        return cos(start, middle, pos / pct)
    return cos(middle, end, (pos - pct) / (1 - pct))


class FastaiAdam:
    def __init__(self, model, wd=0.01, sqr_mom=0.99, eps=1e-5):
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.do_wd = [p.dim() > 1 for p in self.params]  # no wd on BN weights and biases
        self.avg = [torch.zeros_like(p) for p in self.params]
        self.sqr = [torch.zeros_like(p) for p in self.params]
        self.step_n = 0
        self.wd, self.sqr_mom, self.eps = wd, sqr_mom, eps

    @torch.no_grad()
    def step(self, lr, mom):
        self.step_n += 1
        db1, db2 = 1 - mom ** self.step_n, 1 - self.sqr_mom ** self.step_n
        for p, wd, a, s in zip(self.params, self.do_wd, self.avg, self.sqr):
            if p.grad is None:
                continue
            if wd:
                p.mul_(1 - lr * self.wd)
            g = p.grad
            a.mul_(mom).add_(g, alpha=1 - mom)
            s.mul_(self.sqr_mom).addcmul_(g, g, value=1 - self.sqr_mom)
            p.addcdiv_(a, (s / db2).sqrt_().add_(self.eps), value=-lr / db1)

    def zero_grad(self):
        for p in self.params:
            p.grad = None


def fit_one_cycle(model, train, valid, lr_max, bs, seed, channels):
    tx, ty = train
    vx, vy = valid
    n_batches = len(tx) // bs  # drop_last
    total = n_batches
    opt = FastaiAdam(model)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(tx), generator=g)
    model.train()
    smooth, count = 0.0, 0
    for b in range(n_batches):
        pos = b / total
        lr = combined_cos(0.25, lr_max / 25, lr_max, lr_max / 1e5, pos)
        mom = combined_cos(0.25, 0.95, 0.85, 0.95, pos)
        idx = perm[b * bs:(b + 1) * bs]
        xb, yb = batch(tx[idx], channels), ty[idx]
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step(lr, mom)
        opt.zero_grad()
        count += 1
        smooth = 0.98 * smooth + 0.02 * loss.item()
    train_loss = smooth / (1 - 0.98 ** count)
    model.eval()
    tot_loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(vx), bs):
            xb, yb = batch(vx[i:i + bs], channels), vy[i:i + bs]
            pred = model(xb)
            tot_loss += F.cross_entropy(pred, yb).item() * len(yb)
            correct += (pred.argmax(-1) == yb).sum().item()
    return train_loss, tot_loss / len(vx), correct / len(vx)


def rss_now():
    """This process's resident memory now (VmRSS), MiB."""
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024


def run_part(name):
    import torchvision  # noqa: F401  (imported before the baseline, as a fastai user has it)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    rss0 = rss_now()
    t0 = time.perf_counter()
    if name == "resnet18":
        root = data_root(name, "mnist_sample")
        train, valid = load_folder(root, "train"), load_folder(root, "valid")
    else:
        root = data_root(name, "mnist")
        train = load_idx(root, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
        valid = load_idx(root, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    load = time.perf_counter() - t0
    torch.manual_seed(42)
    model = vision_model(2) if name == "resnet18" else cnn(10)
    t1, c1 = time.perf_counter(), time.process_time()
    train_loss, valid_loss, acc = fit_one_cycle(model, train, valid, 0.1 if name == "resnet18" else 0.01, 64, 42,
                                                3 if name == "resnet18" else 1)
    epoch, epoch_cpu = time.perf_counter() - t1, time.process_time() - c1
    print(f"DATA\t{name}\t{root}")
    print(f"RESULT\t{name} load (s)\t{load:.2f}")
    print(f"RESULT\t{name} epoch (s)\t{epoch:.2f}")
    print(f"RESULT\t{name} epoch CPU (s)\t{epoch_cpu:.2f}")
    print(f"NOTE\t{name}: resident before any data (the interpreter, import torch, torchvision): {rss0:.0f} MiB")
    print(f"NOTE\t{name}: accuracy {acc:.4f}, train_loss {train_loss:.4f} after 1 epoch "
          f"({len(train[0])} train, {len(valid[0])} valid rows, batch 64, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()})")
    sys.stdout.flush()


if __name__ == "__main__":
    run_part(sys.argv[1])
